# forecastlab: reproduce the Keras RNN time-series tutorials end to end.
#
#   params.yaml -> acquire -> split -> window -> train -> evaluate -> verify -> report
#
# Every experiment is defined in params.yaml, validated below before any job starts.

from forecastlab.config import load_yaml, params_hash, validate_params


configfile: "params.yaml"


validate_params(
    config,
    load_yaml(f"{workflow.basedir}/workflow/schemas/params.schema.yaml"),
    source=", ".join(map(str, workflow.configfiles)) or "params.yaml",
)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/windows.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/verify.smk"
include: "workflow/rules/report.smk"


onstart:
    # MLflow's SQLite store must exist before parallel jobs log to it; a tracking server
    # must answer (checked in seconds), and jobs on a cluster must use one. This runs
    # before the first job is scheduled, so a failure here submits nothing.
    shell(
        f"python workflow/scripts/init_tracking.py {' '.join(STUDIES)}"
        + (" --require-server" if workflow.non_local_exec else "")
    )


rule all:
    input:
        every_window(),
        "reports/index.html" if studies_with_runs() else [],


# One target per phase; dvc.yaml's stages run these.
rule all_windows:
    input:
        every_window(),


rule all_models:
    input:
        every("weights"),


rule all_evaluations:
    input:
        every("eval"),


rule all_verifications:
    input:
        every("verify"),
