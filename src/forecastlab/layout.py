"""Where the pipeline keeps each trained model's files, and which models a study trains.

One definition, read by the Snakemake rules (common.smk), the summarize step and the
report notebooks alike, so that a rule and its readers never disagree on a path. They
take the compact `studies` mapping of params.yaml rather than the expanded list of runs,
which grows with every model and would overflow one command-line argument (Linux caps
one at 128 KiB).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forecastlab.architectures import ARCHITECTURES, applies

# The params file of the default run, whose outputs are the project's (and committed).
DEFAULT_PARAMS = "params.yaml"
# Where a run on any other params file writes everything it makes: runs/<file name>/.
OTHER_RUNS = "runs"


def output_folder(params_file: str | Path, project: str | Path) -> Path | None:
    """Where a run on `params_file` writes its outputs (data, models, results, reports,
    logs, the MLflow store): None for the project's own params.yaml (the project folder
    itself), else runs/<file name without .yaml> in the project, so that trying other
    params never touches the default run's files or the committed results."""
    project = Path(project).resolve()
    if Path(params_file).resolve() == project / DEFAULT_PARAMS:
        return None
    return project / OTHER_RUNS / Path(params_file).name.removesuffix(".yml").removesuffix(".yaml")


# A study's data, phase by phase: its raw series (csv, or npz for a panel of many series),
# its split and scaled parts, its windows of each length.
# Names, as patterns whose fields are the rules' wildcards, used in paths, logs, MLflow
# and the progress lines: a study's windows of one length (study/wL), a model of them
# (study/wL/arch) and one trained run of it (the model and its seed).
WINDOW = "{study}/w{length}"
MODEL = WINDOW + "/{arch}"
RUN = MODEL + "/seed{seed}"

RAW = "data/raw/{study}.{extension}"
PREPARED = "data/prepared/{study}.npz"
WINDOWS = f"data/windows/{WINDOW}.npz"

# The files of one trained model (one seed of one architecture at one window length), by
# role, as made by the train and verify rules.
RUN_FILES = {
    "model": "models/{run}/model.keras",
    "history": "models/{run}/history.json",
    "weights": "models/{run}/weights.npz",
    "eval": "results/eval/{run}/eval.json",
    "predictions": "results/eval/{run}/predictions.npz",
    "verify": "results/verify/{run}/verify.json",
    # The hand pass's carried hidden states, stateful_hidden (T, units); empty without one.
    "hidden": "results/verify/{run}/hidden.npz",
}
# The roles the train job makes (the verify job makes the others).
TRAINED_FILES = ("model", "weights", "history", "eval", "predictions")


# The pipeline's tables and reports, by role: what the summarize job writes, what
# track_models writes, and each report's notebook and page (the name is a study, or
# "computations" or "index").
RESULTS = {
    "summary": "results/summary.csv",
    "aggregates": "results/aggregates.csv",
    "metrics": "results/metrics.json",
    "stateful": "results/stateful_vs_stateless.csv",
    "environment": "results/environment.json",
    "pairwise": "results/pairwise_tests.csv",
    "confidence_set": "results/model_confidence_set.csv",
    "claims": "results/claims.csv",
    "plots": "results/plots",
    "mlflow_parents": "results/mlflow_parents.json",
}
REPORT = "reports/{name}.{kind}"
REPORT_KINDS = ("ipynb", "html")

# Each job's log and benchmark record, named by its phase (the rule's folder: train,
# verify, window, ...) and the job's part of the name (a RUN, a study, none for a job
# of which a run has one).
LOG = "logs/{name}.log"
BENCHMARK = "benchmarks/{name}.tsv"
FORKSERVER_LOG = "logs/forkserver.log"


def windows_file(study: str, length: int) -> str:
    """The windows of length `length` of a study, as the window rule cuts them."""
    return WINDOWS.format(study=study, length=length)


def run_name(study: str, length: int, arch: str, seed: int | None = None) -> str:
    """A model's name in paths, logs and MLflow: study/wL/arch for the model with all its
    seed replicates, study/wL/arch/seedN for the one trained with seed N."""
    if seed is None:
        return MODEL.format(study=study, length=length, arch=arch)
    return RUN.format(study=study, length=length, arch=arch, seed=seed)


_NAME = re.compile(r"(?P<study>[^/]+)/w(?P<length>\d+)/(?P<arch>[^/]+)(?:/seed(?P<seed>\d+))?")


def parse_run_name(name: str) -> dict[str, Any]:
    """The fields of a model's or run's name: study, length (int), arch and seed (an int,
    None in a model's name). Raises ValueError for another string."""
    found = _NAME.fullmatch(name)
    if found is None:
        raise ValueError(f"{name!r} is not a model name (study/wL/arch[/seedN])")
    fields: dict[str, Any] = found.groupdict()
    fields["length"] = int(fields["length"])
    fields["seed"] = None if fields["seed"] is None else int(fields["seed"])
    return fields


def run_file(role: str, name: str) -> str:
    """A run file's path, by role, for a run's name (study/wL/arch/seedN)."""
    return RUN_FILES[role].format(run=name)


def run_pattern(role: str, seed: int) -> str:
    """A run file's path as a Snakemake pattern, by role: RUN_FILES[role] with a model's
    wildcards and this seed (models/{study}/w{length}/{arch}/seed42/model.keras)."""
    run = RUN.format(study="{study}", length="{length}", arch="{arch}", seed=seed)
    return RUN_FILES[role].format(run=run)


def job_log(phase: str, job: str | None = None) -> str:
    """A job's log: job_log("train", RUN) as a pattern, job_log("summarize") for one job."""
    return LOG.format(name=phase if job is None else f"{phase}/{job}")


def job_benchmark(phase: str, job: str | None = None) -> str:
    """A job's benchmark record, as job_log names its log."""
    return BENCHMARK.format(name=phase if job is None else f"{phase}/{job}")


def model_seeds(spec: Mapping[str, Any], arch: str) -> list[int]:
    """The seeds a study trains `arch` with, one model each: the model's own `seeds`, else
    the study's, either a list or a count n (the study's seed and the n - 1 after it). A
    baseline learns nothing, so it has one replicate (the study's seed)."""
    first = spec.get("seed", 42)
    seeds = spec["models"][arch].get("seeds", spec.get("seeds", 1))
    if not ARCHITECTURES[arch].trained:
        return [first]
    return list(range(first, first + seeds)) if isinstance(seeds, int) else list(seeds)


# The rules that train a model's seeds and that verify them, one each per study and seed
# list (train.smk, verify.smk): a job trains, or verifies, all the seeds of one model, so
# its rule lists every seed's files, and a rule's outputs cannot depend on its wildcards.
# Their names start with these prefixes.
TRAIN_RULE = "train_model"
VERIFY_RULE = "verify_model"
PER_MODEL_RULES = (TRAIN_RULE, VERIFY_RULE)


def rule_kind(rule: str) -> str:
    """The rule a job's rule is one of: train_model for train_model_sine_seeds_42_to_46,
    any other rule itself."""
    return next((kind for kind in PER_MODEL_RULES if rule.startswith(f"{kind}_")), rule)


def seed_groups(studies: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per study and seed list its architectures train with: the rules' names
    by kind (rules["train_model"] is train_model_sine_seeds_42_to_46), the study, the
    architectures and the seeds."""
    groups: dict[tuple[str, tuple[int, ...]], list[str]] = {}
    for study, spec in studies.items():
        for arch in dict.fromkeys(arch for _, arch in study_runs(spec)):
            groups.setdefault((study, tuple(model_seeds(spec, arch))), []).append(arch)
    return [
        {
            "rules": {kind: f"{kind}_{study}_{_seeds_name(seeds)}" for kind in PER_MODEL_RULES},
            "study": study,
            "archs": archs,
            "seeds": list(seeds),
        }
        for (study, seeds), archs in groups.items()
    ]


def _seeds_name(seeds: tuple[int, ...]) -> str:
    if len(seeds) == 1:
        return f"seed_{seeds[0]}"
    if list(seeds) == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds_{seeds[0]}_to_{seeds[-1]}"
    return "seeds_" + "_".join(map(str, seeds))


def study_runs(spec: Mapping[str, Any]) -> list[tuple[int, str]]:
    """Every (window length, architecture) pair a study trains: each listed architecture at
    each window length it can read (a seasonal naive forecast needs a season in the window)."""
    return [
        (length, arch)
        for length in spec["windows"]["lengths"]
        for arch in spec["architectures"]
        if applies(arch, spec["models"][arch], length)
    ]


def run_files(study: str, length: int, arch: str, seed: int) -> dict[str, str]:
    """Every file the pipeline writes for one trained model, by role (see RUN_FILES)."""
    run = run_name(study, length, arch, seed)
    return {role: run_file(role, run) for role in RUN_FILES}


def runs_of(studies: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One dict per trained model of `studies` (params.yaml's mapping, validated), seed by
    seed: study, window, arch, seed, seeds (all of the model's, the first one's run listed
    first), hyperparams and its files by role."""
    return [
        {
            "study": study,
            "window": length,
            "arch": arch,
            "seed": seed,
            "seeds": seeds,
            "hyperparams": spec["models"][arch],
            **run_files(study, length, arch, seed),
        }
        for study, spec in studies.items()
        for length, arch in study_runs(spec)
        for seeds in [model_seeds(spec, arch)]
        for seed in seeds
    ]


def replicates_of(runs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """runs (as runs_of lists them) grouped by model: one list of seed runs per (study,
    window, arch), in the order of runs_of."""
    models: dict[tuple, list[dict[str, Any]]] = {}
    for run in runs:
        models.setdefault((run["study"], run["window"], run["arch"]), []).append(run)
    return list(models.values())
