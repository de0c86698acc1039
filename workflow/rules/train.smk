# Train each (study, window length, architecture, seed) and evaluate it on its test part,
# in every mode that applies (forecastlab.modes), in one job: the model is built, traced
# and loaded once. Jobs run in children of the fork server (start_forkserver), which
# imported TensorFlow once for all of them.


rule train_model:
    input:
        windows=layout.WINDOWS,
        prepared=layout.PREPARED,
        script=script("train"),
        library=library("train"),
    output:
        model=layout.run_pattern("model"),
        weights=layout.run_pattern("weights"),
        history=layout.run_pattern("history"),
        metrics=layout.run_pattern("eval"),
        predictions=layout.run_pattern("predictions"),
    params:
        hyperparams=hyperparams_json,
        data_params=data_params_json,
    log:
        job=layout.job_log("train", layout.RUN),
        # The client writes the job's own cost: Snakemake's `benchmark:` would measure
        # only the client waiting for the fork server's child (forecastlab.forkserver).
        benchmark=layout.job_benchmark("train", layout.RUN),
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
