# Evaluate each trained model on its test windows; recurrent one-step models also in one
# stateful pass over the test part.


rule evaluate_model:
    input:
        model="models/{study}/w{length}/{arch}/model.keras",
        history="models/{study}/w{length}/{arch}/history.json",
        windows="data/windows/{study}/w{length}.npz",
        prepared="data/prepared/{study}.npz",
        script=script("evaluate"),
        library=library(
            "architectures", "data", "models", "evaluation", "plots", "training", "tracking", "windows"
        ),
    output:
        metrics="results/eval/{study}/w{length}/{arch}/eval.json",
        predictions="results/eval/{study}/w{length}/{arch}/predictions.npz",
    params:
        hyperparams=hyperparams_json,
        seed=study_seed,
    log:
        "logs/evaluate/{study}/w{length}/{arch}.log",
    benchmark:
        "benchmarks/evaluate/{study}/w{length}/{arch}.tsv",
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/tensorflow.yaml"
    shell:
        "python {input.script} --name {wildcards.study}/w{wildcards.length}/{wildcards.arch}"
        " --model {input.model} --history {input.history}"
        " --windows {input.windows} --prepared {input.prepared} --arch {wildcards.arch}"
        " --hyperparams {params.hyperparams:q} --length {wildcards.length}"
        " --seed {params.seed}"
        " --metrics {output.metrics} --predictions {output.predictions} > {log} 2>&1"
