# Render the HTML reports with papermill and nbconvert: one per study and the index (no
# TensorFlow), and the hand computations of every layer type beside Keras's.

rule report_study:
    input:
        runs=report_inputs,
        pairwise=RESULTS["pairwise"],
        confidence_set=RESULTS["confidence_set"],
        stateful=RESULTS["stateful"],
        aggregates=RESULTS["aggregates"],
        template=template("study"),
        script=script("report"),
        library=library("report", "study"),
    output:
        notebook=report_file("{study}", "ipynb"),
        html=report_file("{study}", "html"),
    params:
        parameters=study_comparison_parameters,
    log:
        layout.job_log("report", "{study}"),
    benchmark:
        layout.job_benchmark("report", "{study}"),
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
        library=library("summarize"),
    output:
        summary=RESULTS["summary"],
        aggregates=RESULTS["aggregates"],
        metrics=RESULTS["metrics"],
        stateful=RESULTS["stateful"],
        environment=RESULTS["environment"],
        plots=directory(RESULTS["plots"]),
        pairwise=RESULTS["pairwise"],
        confidence_set=RESULTS["confidence_set"],
        claims=RESULTS["claims"],
    params:
        studies=studies_json,
        level=config["statistics"]["level"],
        mcs=mcs_json,
    log:
        layout.job_log("summarize"),
    benchmark:
        layout.job_benchmark("summarize"),
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
        aggregates=RESULTS["aggregates"],
        stateful=RESULTS["stateful"],
        confidence_set=RESULTS["confidence_set"],
        script=script("track_models"),
        library=library("track_models"),
    output:
        RESULTS["mlflow_parents"],
    params:
        studies=studies_json,
    log:
        layout.job_log("track_models"),
    benchmark:
        layout.job_benchmark("track_models"),
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
        library=library("report", "computations"),
    output:
        notebook=report_file("computations", "ipynb"),
        html=report_file("computations", "html"),
    params:
        parameters=computations_report_parameters,
    log:
        layout.job_log("report", "computations"),
    benchmark:
        layout.job_benchmark("report", "computations"),
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
        studies=[report_file(study, "html") for study in studies_with_runs()],
        computations=report_file("computations", "html"),
        stateful=RESULTS["stateful"],
        confidence_set=RESULTS["confidence_set"],
        claims=RESULTS["claims"],
        template=template("index"),
        script=script("report"),
        library=library("report", "index"),
    output:
        notebook=report_file("index", "ipynb"),
        html=report_file("index", "html"),
    params:
        parameters=index_comparison_parameters,
    log:
        layout.job_log("report", "index"),
    benchmark:
        layout.job_benchmark("report", "index"),
    threads: 1
    resources:
        mem_mb=1500,
    conda:
        "../../envs/report.yaml"
    shell:
        "python {input.script} --template {input.template}"
        " --parameters {params.parameters:q} --notebook {output.notebook}"
        " --html {output.html} > {log} 2>&1"
