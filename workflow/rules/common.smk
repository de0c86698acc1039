# Helpers shared by every rule: paths of code inputs and params taken from config.

import json
import os
import re
import sys
from pathlib import Path

import snakemake
from snakemake.scheduling.job_scheduler import JobScheduler
from snakemake.settings.types import DeploymentMethod

from forecastlab import forkserver, layout, progress, scheduling
from forecastlab.library import library_modules, module_files

# Snakemake's scheduler would otherwise spend a third of a core re-reading every ready
# job's inputs ever more often (forecastlab.scheduling).
scheduling.patch_scheduler(JobScheduler, snakemake.__version__)

# Jobs inherit these. The interpreter running Snakemake has forecastlab installed, so its
# folder goes first on PATH and a rule's `python` is that interpreter even when the
# virtual environment was not activated. TF_CPP_MIN_LOG_LEVEL keeps TensorFlow's C++
# start-up chatter out of the logs.
os.environ.update(
    PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# With --software-deployment-method conda, jobs run in the envs/ environments, which hold
# the pinned packages but not forecastlab: they import it from the workflow's src/.
if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
    os.environ.update(
        PYTHONPATH=os.pathsep.join([f"{workflow.basedir}/src", os.environ.get("PYTHONPATH", "")])
    )
STUDIES = config["studies"]
# The fork server of this run, while it runs (see start_forkserver).
FORKSERVER = []


wildcard_constraints:
    study="|".join(STUDIES),
    length=r"\d+",
    arch="[a-z][a-z0-9_]*",


def start_forkserver():
    """Train and verify jobs run in forked children of one process that imported
    TensorFlow, Keras and MLflow once (forecastlab.forkserver): those imports cost more
    CPU than many a job's work. Jobs on a cluster, or in conda environments, start their
    own interpreter, and so do all jobs with FORECASTLAB_FORKSERVER=off."""
    in_conda = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
    if not (workflow.non_local_exec or in_conda or forkserver.disabled()):
        FORKSERVER.append(forkserver.start(layout.FORKSERVER_LOG))


def write_job_plan():
    """Every job this run does, with its wall in the last run, for the progress lines'
    time left (forecastlab.progress.PLAN). Snakemake's DAG is internal API, read here only
    under the Snakemake versions that scheduling.patch_scheduler accepts."""
    progress.write_plan(
        (job.rule.name, job.wildcards_dict, job.benchmark or getattr(job.log, "benchmark", None))
        for job in workflow.dag.needrun_jobs()
    )


def stop_forkserver():
    while FORKSERVER:
        FORKSERVER.pop().stop()


def project_path(path):
    """A file of the project (code, a template, vendored data) as jobs find it: relative
    to the project folder, which is their working directory unless another params file
    moved the outputs apart (OUTPUT_FOLDER), where they need it absolute."""
    return path if OUTPUT_FOLDER is None else f"{workflow.basedir}/{path}"


# A workflow script and a report's notebook, by name.
SCRIPT = "workflow/scripts/{}.py"
TEMPLATE = "workflow/notebooks/{}_report.ipynb"


def script(name):
    """A workflow script, listed as an input so that editing it reruns its jobs."""
    return project_path(SCRIPT.format(name))


def template(name):
    """A report's notebook."""
    return project_path(TEMPLATE.format(name))


def library(script_name, template_name=None):
    """The library modules that a script, and the notebook it renders, run with those
    they import (forecastlab.library), listed as inputs for the same reason: every job
    reruns when a module it may run changes."""
    entries = [SCRIPT.format(script_name)]
    entries += [TEMPLATE.format(template_name)] if template_name else []
    modules = {name for entry in entries for name in library_modules(f"{workflow.basedir}/{entry}")}
    return [project_path(path) for path in module_files(sorted(modules))]


def report_file(name, kind):
    """A report's notebook ("ipynb") or page ("html"): a study's, or computations, index."""
    return layout.REPORT.format(name=name, kind=kind)


def study_seed(wildcards):
    return STUDIES[wildcards.study]["seed"]


def source_json(wildcards):
    source = STUDIES[wildcards.study]["source"]
    if source["kind"] == "csv":
        source = source | {"file": project_path(source["file"])}
    return json.dumps(source, sort_keys=True)


def vendored_file(wildcards):
    """The vendored copy a csv source reads (an input, so a new copy reruns the study)."""
    source = STUDIES[wildcards.study]["source"]
    return [project_path(source["file"])] if source["kind"] == "csv" else []


def raw_path(study):
    """Textbook studies hold many series (.npz); the others one series (.csv)."""
    extension = "npz" if STUDIES[study]["source"]["kind"] == "textbook" else "csv"
    return layout.RAW.format(study=study, extension=extension)


def raw_file(wildcards):
    return raw_path(wildcards.study)


def split_json(wildcards):
    return json.dumps(STUDIES[wildcards.study]["split"], sort_keys=True)


def study_scaler(wildcards):
    return STUDIES[wildcards.study]["scaler"]


def window_cut(wildcards):
    return STUDIES[wildcards.study]["windows"]["cut"]


def window_targets(wildcards):
    return " ".join(STUDIES[wildcards.study]["windows"]["targets"])


def window_horizon(wildcards):
    return STUDIES[wildcards.study]["windows"]["horizon"]


def data_params_json(wildcards):
    spec = STUDIES[wildcards.study]
    keys = ("source", "split", "scaler", "windows")
    return json.dumps({key: spec[key] for key in keys}, sort_keys=True)


def hyperparams_json(wildcards):
    """A model's hyperparameters but its seeds: adding a seed leaves the other seeds'
    models as they are."""
    hyperparams = STUDIES[wildcards.study]["models"][wildcards.arch]
    return json.dumps({k: v for k, v in hyperparams.items() if k != "seeds"}, sort_keys=True)


def study_runs(study):
    return layout.study_runs(STUDIES[study])


def runs_of(studies):
    """One dict per trained model of `studies` (names): see forecastlab.layout.runs_of."""
    return layout.runs_of({study: STUDIES[study] for study in studies})


def files_of(runs):
    """Every file of every run in `runs` (as runs_of returns them)."""
    return [run[role] for run in runs for role in layout.RUN_FILES]


def study_report_parameters(wildcards):
    """The study and its params: the notebook lists its runs (forecastlab.layout)."""
    return json.dumps(
        {
            "study": wildcards.study,
            "studies": {wildcards.study: STUDIES[wildcards.study]},
            "level": config["statistics"]["level"],
        }
    )


def index_report_parameters(wildcards):
    """The index names the params it comes from by hash (the commit it reads itself)."""
    return json.dumps(
        {
            "stateful": RESULTS["stateful"],
            "reports": {study: f"{study}.html" for study in studies_with_runs()},
            "params_hash": params_hash(config),
            "level": config["statistics"]["level"],
        }
    )


# The tables the summarize step writes, which the reports and the MLflow parents read
# (among them, which model is best: forecastlab.comparison).
RESULTS = layout.RESULTS


def mcs_json(wildcards):
    """The model confidence set's bootstrap settings (statistics.mcs)."""
    return json.dumps(config["statistics"]["mcs"], sort_keys=True)


def study_comparison_parameters(wildcards, input):
    """study_report_parameters and the summarize job's tables the report shows: the
    comparisons, the stateful verdicts and the aggregates (the rule's inputs)."""
    parameters = json.loads(study_report_parameters(wildcards))
    tables = ("pairwise", "confidence_set", "stateful", "aggregates")
    return json.dumps(parameters | {key: input[key] for key in tables})


def index_comparison_parameters(wildcards):
    """index_report_parameters and the confidence sets and claims it shows."""
    parameters = json.loads(index_report_parameters(wildcards))
    return json.dumps(
        parameters | {key: RESULTS[key] for key in ("confidence_set", "claims")}
    )


def computations_report_parameters(wildcards):
    """Every study: the report picks a trained model for each layer type it explains."""
    tolerances = {key: config["verification"][key] for key in ("atol", "rtol")}
    return json.dumps({"studies": STUDIES, **tolerances})


def computation_inputs(wildcards):
    """The saved models, weights and histories, and the windows they read."""
    runs = runs_of(STUDIES)
    return [
        *(layout.windows_file(run["study"], run["window"]) for run in runs),
        *(run[role] for run in runs for role in ("model", "weights", "history")),
    ]


def report_inputs(wildcards):
    return files_of(runs_of([wildcards.study]))


def studies_json(wildcards):
    return json.dumps(STUDIES)


def all_run_inputs(wildcards):
    return files_of(runs_of(STUDIES))


def studies_with_runs():
    return [study for study in STUDIES if study_runs(study)]


def every(role):
    """The file of `role` (see run_files) for every trained model of every study."""
    return [run[role] for run in runs_of(STUDIES)]


def phase_files(phase):
    """Every file one phase (data, train (and evaluate), verify or report) makes."""
    runs = [(study, length, arch) for study in STUDIES for length, arch in study_runs(study)]
    if phase == "data":
        return [
            *(raw_path(study) for study in STUDIES),
            *(layout.PREPARED.format(study=study) for study in STUDIES),
            *(
                layout.windows_file(study, length)
                for study, spec in STUDIES.items()
                for length in spec["windows"]["lengths"]
            ),
        ]
    if phase == "train":
        return [path for role in layout.TRAINED_FILES for path in every(role)]
    if phase == "verify":
        return every("verify")
    if not runs:
        return []
    notebooks = [*studies_with_runs(), "computations", "index"]
    return [
        *RESULTS.values(),
        *(report_file(name, kind) for name in notebooks for kind in layout.REPORT_KINDS),
    ]


def every_file():
    phases = ("data", "train", "verify", "report")
    return [path for phase in phases for path in phase_files(phase)]
