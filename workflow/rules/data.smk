# Acquire each study's series and split it chronologically.


rule acquire_series:
    input:
        script=script("acquire"),
        library=library("data"),
    output:
        "data/raw/{study}.csv",
    params:
        source=source_json,
        seed=study_seed,
    log:
        "logs/acquire/{study}.log",
    threads: 1
    resources:
        mem_mb=500,
    shell:
        "python {input.script} --source {params.source:q} --seed {params.seed}"
        " --output {output} > {log} 2>&1"


rule split_series:
    input:
        series="data/raw/{study}.csv",
        script=script("split"),
        library=library("data"),
    output:
        "data/prepared/{study}.npz",
    params:
        test_share=test_share,
    log:
        "logs/split/{study}.log",
    threads: 1
    resources:
        mem_mb=500,
    shell:
        "python {input.script} --input {input.series} --test-share {params.test_share}"
        " --output {output} > {log} 2>&1"
