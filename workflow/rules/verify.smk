# Recompute every trained model by hand (numpy, no TensorFlow) and compare with Keras.


rule verify_model:
    input:
        model=layout.run_pattern("model"),
        weights=layout.run_pattern("weights"),
        history=layout.run_pattern("history"),
        windows=layout.WINDOWS,
        predictions=layout.run_pattern("predictions"),
        script=script("verify"),
        library=library("verify"),
    output:
        report=layout.run_pattern("verify"),
        hidden=layout.run_pattern("hidden"),
    params:
        name=run_name_of,
        hyperparams=hyperparams_json,
        atol=config["verification"]["atol"],
        stateful_atol=config["verification"]["stateful_atol"],
        rtol=config["verification"]["rtol"],
    log:
        job=layout.job_log("verify", layout.RUN),
        # The client writes the job's own cost: Snakemake's `benchmark:` would measure
        # only the client waiting for the fork server's child (forecastlab.forkserver).
        benchmark=layout.job_benchmark("verify", layout.RUN),
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/numpy.yaml"
    shell:
        "python -m forecastlab.forkserver --benchmark {log.benchmark} {input.script}"
        " --name {params.name}"
        " --arch {wildcards.arch} --hyperparams {params.hyperparams:q}"
        " --model {input.model} --weights {input.weights} --windows {input.windows}"
        " --predictions {input.predictions} --history {input.history}"
        " --atol {params.atol} --stateful-atol {params.stateful_atol} --rtol {params.rtol}"
        " --output {output.report} --hidden {output.hidden} > {log.job} 2>&1"
