# Train each (study, window length, architecture).


rule train_model:
    input:
        windows="data/windows/{study}/w{length}.npz",
        prepared="data/prepared/{study}.npz",
        script=script("train"),
        library=library("architectures", "config", "models", "training", "tracking", "windows"),
    output:
        model="models/{study}/w{length}/{arch}/model.keras",
        weights="models/{study}/w{length}/{arch}/weights.npz",
        history="models/{study}/w{length}/{arch}/history.json",
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
        " --weights {output.weights} --history {output.history} > {log} 2>&1"
