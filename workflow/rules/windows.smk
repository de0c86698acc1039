# Cut windows of each length listed for a study.


rule window_series:
    input:
        prepared="data/prepared/{study}.npz",
        script=script("window"),
        library=library("windows"),
    output:
        "data/windows/{study}/w{length}.npz",
    log:
        "logs/window/{study}/w{length}.log",
    threads: 1
    resources:
        mem_mb=500,
    shell:
        "python {input.script} --input {input.prepared} --study {wildcards.study}"
        " --length {wildcards.length} --output {output} > {log} 2>&1"
