# Render the HTML reports with papermill and nbconvert: one per study and the index (no
# TensorFlow), and the hand computations of every layer type beside Keras's.

rule report_study:
    input:
        runs=report_inputs,
        pairwise=COMPARISONS["pairwise"],
        confidence_set=COMPARISONS["confidence_set"],
        stateful="results/stateful_vs_stateless.csv",
        aggregates="results/aggregates.csv",
        template=template("study"),
        script=script("report"),
        library=library(
            "architectures",
            "comparison",
            "handcheck",
            "layout",
            "modes",
            "reporting",
            "stats",
            "summary",
            "views",
            "windows",
        ),
    output:
        notebook="reports/{study}.ipynb",
        html="reports/{study}.html",
    params:
        parameters=study_comparison_parameters,
    log:
        "logs/report/{study}.log",
    benchmark:
        "benchmarks/report/{study}.tsv",
    threads: 1
    resources:
        mem_mb=1500,
    conda:
        "../../envs/report.yaml"
    shell:
        "python {input.script} --template {input.template}"
        " --parameters {params.parameters:q} --notebook {output.notebook}"
        " --html {output.html} > {log} 2>&1"


rule summarize_results:
    input:
        runs=all_run_inputs,
        script=script("summarize"),
        library=library(
            "architectures",
            "claims",
            "comparison",
            "dvcplots",
            "layout",
            "modes",
            "stats",
            "summary",
            "windows",
        ),
    output:
        summary="results/summary.csv",
        aggregates="results/aggregates.csv",
        metrics="results/metrics.json",
        stateful="results/stateful_vs_stateless.csv",
        environment="results/environment.json",
        plots=directory("results/plots"),
        pairwise=COMPARISONS["pairwise"],
        confidence_set=COMPARISONS["confidence_set"],
        claims=COMPARISONS["claims"],
    params:
        studies=studies_json,
        level=config["statistics"]["level"],
        mcs=mcs_json,
    log:
        "logs/summarize.log",
    benchmark:
        "benchmarks/summarize.tsv",
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/numpy.yaml"
    shell:
        "python {input.script} --studies {params.studies:q} --summary {output.summary}"
        " --aggregates {output.aggregates}"
        " --metrics {output.metrics} --stateful {output.stateful} --level {params.level}"
        " --environment {output.environment} --mcs {params.mcs:q}"
        " --pairwise {output.pairwise} --confidence-set {output.confidence_set}"
        " --claims {output.claims} --plots {output.plots} > {log} 2>&1"


rule track_models:
    input:
        histories=lambda wildcards: every("history"),
        aggregates="results/aggregates.csv",
        stateful="results/stateful_vs_stateless.csv",
        confidence_set=COMPARISONS["confidence_set"],
        script=script("track_models"),
        library=library(
            "architectures", "comparison", "layout", "stats", "summary", "tracking"
        ),
    output:
        "results/mlflow_parents.json",
    params:
        studies=studies_json,
    log:
        "logs/track_models.log",
    benchmark:
        "benchmarks/track_models.tsv",
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/numpy.yaml"
    shell:
        "python {input.script} --studies {params.studies:q} --aggregates {input.aggregates}"
        " --stateful {input.stateful} --confidence-set {input.confidence_set}"
        " --output {output} > {log} 2>&1"


rule report_computations:
    input:
        runs=computation_inputs,
        template=template("computations"),
        script=script("report"),
        library=library(
            "architectures", "computations", "handcheck", "layout", "models", "reporting"
        ),
    output:
        notebook="reports/computations.ipynb",
        html="reports/computations.html",
    params:
        parameters=computations_report_parameters,
    log:
        "logs/report/computations.log",
    benchmark:
        "benchmarks/report/computations.tsv",
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/computations.yaml"
    shell:
        "python {input.script} --template {input.template}"
        " --parameters {params.parameters:q} --notebook {output.notebook}"
        " --html {output.html} > {log} 2>&1"


rule report_index:
    input:
        studies=expand("reports/{study}.html", study=studies_with_runs()),
        computations="reports/computations.html",
        stateful="results/stateful_vs_stateless.csv",
        confidence_set=COMPARISONS["confidence_set"],
        claims=COMPARISONS["claims"],
        template=template("index"),
        script=script("report"),
        library=library(
            "architectures",
            "claims",
            "comparison",
            "handcheck",
            "layout",
            "modes",
            "reporting",
            "stats",
            "summary",
            "views",
            "windows",
        ),
    output:
        notebook="reports/index.ipynb",
        html="reports/index.html",
    params:
        parameters=index_comparison_parameters,
    log:
        "logs/report/index.log",
    benchmark:
        "benchmarks/report/index.tsv",
    threads: 1
    resources:
        mem_mb=1500,
    conda:
        "../../envs/report.yaml"
    shell:
        "python {input.script} --template {input.template}"
        " --parameters {params.parameters:q} --notebook {output.notebook}"
        " --html {output.html} > {log} 2>&1"
