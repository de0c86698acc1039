# Train each (study, window length, architecture) and evaluate it on its test part, in
# every mode that applies (forecastlab.modes): one process, one TensorFlow start-up.


rule train_model:
    input:
        windows="data/windows/{study}/w{length}.npz",
        prepared="data/prepared/{study}.npz",
        script=script("train"),
        library=library(
            "architectures",
            "config",
            "data",
            "evaluation",
            "models",
            "modes",
            "plots",
            "training",
            "tracking",
            "windows",
        ),
    output:
        model="models/{study}/w{length}/{arch}/model.keras",
        weights="models/{study}/w{length}/{arch}/weights.npz",
        history="models/{study}/w{length}/{arch}/history.json",
        metrics="results/eval/{study}/w{length}/{arch}/eval.json",
        predictions="results/eval/{study}/w{length}/{arch}/predictions.npz",
    params:
        hyperparams=hyperparams_json,
        data_params=data_params_json,
        seed=study_seed,
    log:
        "logs/train/{study}/w{length}/{arch}.log",
    benchmark:
        "benchmarks/train/{study}/w{length}/{arch}.tsv",
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/tensorflow.yaml"
    shell:
        "python {input.script} --windows {input.windows} --prepared {input.prepared}"
        " --study {wildcards.study}"
        " --length {wildcards.length} --arch {wildcards.arch}"
        " --hyperparams {params.hyperparams:q} --data-params {params.data_params:q}"
        " --seed {params.seed} --model {output.model}"
        " --weights {output.weights} --history {output.history}"
        " --metrics {output.metrics} --predictions {output.predictions} > {log} 2>&1"
