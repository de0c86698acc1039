# Cut windows of each length listed for a study, with the study's cut and target kinds.


rule window_series:
    input:
        prepared=layout.PREPARED,
        script=script("window"),
        library=library("window"),
    output:
        layout.WINDOWS,
    params:
        cut=window_cut,
        targets=window_targets,
        horizon=window_horizon,
    log:
        layout.job_log("window", layout.WINDOW),
    benchmark:
        layout.job_benchmark("window", layout.WINDOW),
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/numpy.yaml"
    shell:
        "python {input.script} --input {input.prepared} --study {wildcards.study}"
        " --length {wildcards.length} --cut {params.cut} --targets {params.targets}"
        " --horizon {params.horizon} --output {output} > {log} 2>&1"
