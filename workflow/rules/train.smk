# Train each (study, window length, architecture, seed) and evaluate it on its test part,
# in every mode that applies (forecastlab.modes), in one job: the model is built, traced
# and loaded once. Jobs run in children of the fork server (start_forkserver), which
# imported TensorFlow once for all of them.


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
            "layout",
            "models",
            "modes",
            "plots",
            "training",
            "tracking",
            "windows",
        ),
    output:
        model="models/{study}/w{length}/{arch}/seed{seed}/model.keras",
        weights="models/{study}/w{length}/{arch}/seed{seed}/weights.npz",
        history="models/{study}/w{length}/{arch}/seed{seed}/history.json",
        metrics="results/eval/{study}/w{length}/{arch}/seed{seed}/eval.json",
        predictions="results/eval/{study}/w{length}/{arch}/seed{seed}/predictions.npz",
    params:
        hyperparams=hyperparams_json,
        data_params=data_params_json,
    log:
        job="logs/train/{study}/w{length}/{arch}/seed{seed}.log",
        # The client writes the job's own cost: Snakemake's `benchmark:` would measure
        # only the client waiting for the fork server's child (forecastlab.forkserver).
        benchmark="benchmarks/train/{study}/w{length}/{arch}/seed{seed}.tsv",
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/tensorflow.yaml"
    shell:
        "python -m forecastlab.forkserver --benchmark {log.benchmark} {input.script} --windows {input.windows} --prepared {input.prepared}"
        " --study {wildcards.study}"
        " --length {wildcards.length} --arch {wildcards.arch}"
        " --hyperparams {params.hyperparams:q} --data-params {params.data_params:q}"
        " --seed {wildcards.seed} --model {output.model}"
        " --weights {output.weights} --history {output.history}"
        " --metrics {output.metrics} --predictions {output.predictions} > {log.job} 2>&1"
