# forecastlab: reproduce the Keras RNN time-series tutorials end to end.
#
#   params.yaml -> acquire -> split -> window -> train and evaluate -> verify -> report
#
# Every experiment is defined in params.yaml, validated below before any job starts.
# FORECASTLAB_PARAMS=other.yaml runs on another params file in its place; Snakemake's
# --configfile merges a file over it instead (README: Everyday commands).

import os

from forecastlab.config import load_yaml, params_hash, validate_params

PARAMS_FILE = os.environ.get("FORECASTLAB_PARAMS", "params.yaml")
# Read once before Snakemake does: its own message for a YAML syntax error names
# neither the file nor the line.
load_yaml(PARAMS_FILE)


configfile: PARAMS_FILE


validate_params(
    config,
    load_yaml(f"{workflow.basedir}/workflow/schemas/params.schema.yaml"),
    source=", ".join(map(str, workflow.configfiles)),
)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/windows.smk"
include: "workflow/rules/train.smk"
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
    start_forkserver()


onsuccess:
    stop_forkserver()


onerror:
    stop_forkserver()


# Every file the workflow makes, not only the last ones: a failed or killed job's outputs
# are removed, and a file that is only another job's input would then stay missing while
# the results made from it still look current.
rule all:
    input:
        every_file(),


# One target per phase; dvc.yaml's stages run these.
rule all_windows:
    input:
        phase_files("data"),


# The trained models and their evaluations (one job makes both).
rule all_models:
    input:
        phase_files("train"),


rule all_verifications:
    input:
        phase_files("verify"),
