# Cut windows of each length listed for a study, with the study's cut and target kinds.


rule window_series:
    input:
        prepared="data/prepared/{study}.npz",
        script=script("window"),
        library=library("windows"),
    output:
        "data/windows/{study}/w{length}.npz",
    params:
        cut=window_cut,
        targets=window_targets,
        horizon=window_horizon,
    log:
        "logs/window/{study}/w{length}.log",
    benchmark:
        "benchmarks/window/{study}/w{length}.tsv",
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/numpy.yaml"
    shell:
        "python {input.script} --input {input.prepared} --study {wildcards.study}"
        " --length {wildcards.length} --cut {params.cut} --targets {params.targets}"
        " --horizon {params.horizon} --output {output} > {log} 2>&1"
