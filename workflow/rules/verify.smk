# Recompute every trained model by hand (numpy, no TensorFlow) and compare with Keras.


rule verify_model:
    input:
        model="models/{study}/w{length}/{arch}/seed{seed}/model.keras",
        weights="models/{study}/w{length}/{arch}/seed{seed}/weights.npz",
        history="models/{study}/w{length}/{arch}/seed{seed}/history.json",
        windows="data/windows/{study}/w{length}.npz",
        predictions="results/eval/{study}/w{length}/{arch}/seed{seed}/predictions.npz",
        script=script("verify"),
        library=library("architectures", "handcheck", "tracking", "windows"),
    output:
        report="results/verify/{study}/w{length}/{arch}/seed{seed}/verify.json",
        hidden="results/verify/{study}/w{length}/{arch}/seed{seed}/hidden.npz",
    params:
        hyperparams=hyperparams_json,
        atol=config["verification"]["atol"],
        stateful_atol=config["verification"]["stateful_atol"],
        rtol=config["verification"]["rtol"],
    log:
        job="logs/verify/{study}/w{length}/{arch}/seed{seed}.log",
        # The client writes the job's own cost: Snakemake's `benchmark:` would measure
        # only the client waiting for the fork server's child (forecastlab.forkserver).
        benchmark="benchmarks/verify/{study}/w{length}/{arch}/seed{seed}.tsv",
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/numpy.yaml"
    shell:
        "python -m forecastlab.forkserver --benchmark {log.benchmark} {input.script}"
        " --name {wildcards.study}/w{wildcards.length}/{wildcards.arch}/seed{wildcards.seed}"
        " --arch {wildcards.arch} --hyperparams {params.hyperparams:q}"
        " --model {input.model} --weights {input.weights} --windows {input.windows}"
        " --predictions {input.predictions} --history {input.history}"
        " --atol {params.atol} --stateful-atol {params.stateful_atol} --rtol {params.rtol}"
        " --output {output.report} --hidden {output.hidden} > {log.job} 2>&1"
