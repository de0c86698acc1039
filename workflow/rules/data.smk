# Acquire each study's series and split it chronologically, scaled on the training part.


rule acquire_series:
    input:
        vendored=vendored_file,
        script=script("acquire"),
        library=library("acquire"),
    output:
        layout.RAW.format(study="{study}", extension="csv"),
    params:
        source=source_json,
        seed=study_seed,
    log:
        layout.job_log("acquire", "{study}"),
    benchmark:
        layout.job_benchmark("acquire", "{study}"),
    threads: 1
    resources:
        mem_mb=500,
    conda:
        "../../envs/numpy.yaml"
    shell:
        "python {input.script} --source {params.source:q} --seed {params.seed}"
        " --output {output} > {log} 2>&1"


use rule acquire_series as acquire_panel with:
    input:
        script=script("acquire"),
        library=library("acquire"),
    output:
        layout.RAW.format(study="{study}", extension="npz"),


rule split_series:
    input:
        raw=raw_file,
        script=script("split"),
        library=library("split"),
    output:
        layout.PREPARED,
    params:
        split=split_json,
        scaler=study_scaler,
    log:
        layout.job_log("split", "{study}"),
    benchmark:
        layout.job_benchmark("split", "{study}"),
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/numpy.yaml"
    shell:
        "python {input.script} --input {input.raw} --study {wildcards.study}"
        " --split {params.split:q} --scaler {params.scaler} --output {output} > {log} 2>&1"
