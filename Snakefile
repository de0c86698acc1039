# forecastlab: reproduce the Keras RNN time-series tutorials end to end.
#
#   params.yaml -> acquire -> split -> window -> train and evaluate -> verify -> report
#
# Every experiment is defined in params.yaml, validated below before any job starts.
# FORECASTLAB_PARAMS=other.yaml runs on another params file in its place; Snakemake's
# --configfile merges a file over it instead (README: Everyday commands).

import os

from forecastlab.config import load_yaml, params_file, params_hash, validate_params
from forecastlab.layout import output_folder

PARAMS_FILE = params_file(os.environ)
# Read once before Snakemake does: its own message for a YAML syntax error names
# neither the file nor the line.
load_yaml(PARAMS_FILE)


configfile: PARAMS_FILE


validate_params(
    config,
    load_yaml(f"{workflow.basedir}/workflow/schemas/params.schema.yaml"),
    source=", ".join(map(str, workflow.configfiles)),
    root=workflow.basedir,
)
# A run on another params file writes all it makes under runs/<its name>/ (forecastlab.
# layout.output_folder): every job runs there, and reads the project's code and vendored
# data through project_path (common.smk).
OUTPUT_FOLDER = output_folder(PARAMS_FILE, workflow.basedir)
if OUTPUT_FOLDER is not None:

    workdir: OUTPUT_FOLDER



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
        f"python {script('init_tracking')} {' '.join(STUDIES)}"
        + (" --require-server" if workflow.non_local_exec else "")
    )
    start_forkserver()
    write_job_plan()


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
