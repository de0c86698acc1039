# Recompute every trained model by hand (numpy, no TensorFlow) and compare with Keras.


rule verify_model:
    input:
        model="models/{study}/w{length}/{arch}/model.keras",
        weights="models/{study}/w{length}/{arch}/weights.npz",
        history="models/{study}/w{length}/{arch}/history.json",
        windows="data/windows/{study}/w{length}.npz",
        predictions="results/eval/{study}/w{length}/{arch}/predictions.npz",
        script=script("verify"),
        library=library("architectures", "handcheck", "tracking", "windows"),
    output:
        "results/verify/{study}/w{length}/{arch}/verify.json",
    params:
        hyperparams=hyperparams_json,
        atol=config["verification"]["atol"],
        stateful_atol=config["verification"]["stateful_atol"],
        rtol=config["verification"]["rtol"],
    log:
        "logs/verify/{study}/w{length}/{arch}.log",
    benchmark:
        "benchmarks/verify/{study}/w{length}/{arch}.tsv",
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/numpy.yaml"
    shell:
        "python {input.script} --name {wildcards.study}/w{wildcards.length}/{wildcards.arch}"
        " --arch {wildcards.arch} --hyperparams {params.hyperparams:q}"
        " --model {input.model} --weights {input.weights} --windows {input.windows}"
        " --predictions {input.predictions} --history {input.history}"
        " --atol {params.atol} --stateful-atol {params.stateful_atol} --rtol {params.rtol}"
        " --output {output} > {log} 2>&1"
