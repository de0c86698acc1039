"""Where the pipeline keeps each trained model's files, and which models a study trains.

One definition, read by the Snakemake rules (common.smk), the summarize step and the
report notebooks alike, so that a rule and its readers never disagree on a path. They
take the compact `studies` mapping of params.yaml rather than the expanded list of runs,
which grows with every model and would overflow one command-line argument (Linux caps
one at 128 KiB).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from forecastlab.architectures import applies

# The files of one trained model, by role, as made by the train and verify rules.
RUN_FILES = {
    "model": "models/{run}/model.keras",
    "history": "models/{run}/history.json",
    "weights": "models/{run}/weights.npz",
    "eval": "results/eval/{run}/eval.json",
    "predictions": "results/eval/{run}/predictions.npz",
    "verify": "results/verify/{run}/verify.json",
}


def windows_file(study: str, length: int) -> str:
    """The windows of length `length` of a study, as the window rule cuts them."""
    return f"data/windows/{study}/w{length}.npz"


def run_name(study: str, length: int, arch: str) -> str:
    """The model's name in paths, logs and MLflow: study/wL/arch."""
    return f"{study}/w{length}/{arch}"


def study_runs(spec: Mapping[str, Any]) -> list[tuple[int, str]]:
    """Every (window length, architecture) pair a study trains: each listed architecture at
    each window length it can read (a seasonal naive forecast needs a season in the window)."""
    return [
        (length, arch)
        for length in spec["windows"]["lengths"]
        for arch in spec["architectures"]
        if applies(arch, spec["models"][arch], length)
    ]


def run_files(study: str, length: int, arch: str) -> dict[str, str]:
    """Every file the pipeline writes for one trained model, by role (see RUN_FILES)."""
    run = run_name(study, length, arch)
    return {role: path.format(run=run) for role, path in RUN_FILES.items()}


def runs_of(studies: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One dict per trained model of `studies` (params.yaml's mapping, validated): study,
    window, arch, hyperparams and its files by role."""
    return [
        {
            "study": study,
            "window": length,
            "arch": arch,
            "hyperparams": spec["models"][arch],
            **run_files(study, length, arch),
        }
        for study, spec in studies.items()
        for length, arch in study_runs(spec)
    ]
