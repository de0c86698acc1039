"""Aggregating per-model results into DVC metrics and plot data files."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from forecastlab.io import atomic_path


def metrics_entry(
    evaluation: Mapping[str, Any], training: Mapping[str, Any], verification: Mapping[str, Any]
) -> dict:
    """The headline numbers of one trained model, as `dvc metrics show` lists them."""
    entry = {
        "final_val_loss": training.get("final_val_loss"),
        **{f"{mode}_mse": metrics["mse"] for mode, metrics in evaluation["modes"].items()},
    }
    if "stateful_to_stateless_mse" in evaluation:
        entry["stateful_to_stateless_mse"] = evaluation["stateful_to_stateless_mse"]
    if "mc_dropout" in evaluation:
        entry["mc_coverage_95"] = evaluation["mc_dropout"]["coverage_95"]
    return {
        **entry,
        "verify_max_abs_error": max(m["max_abs_error"] for m in verification["modes"].values()),
        "verified": bool(verification["passed"]),
    }


def write_csv(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Rows of equal keys as a CSV with a header, written atomically."""
    rows = list(rows)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def loss_rows(history: Mapping[str, list[float]]) -> list[dict[str, float]]:
    """{"loss": [...], "val_loss": [...]} -> one row per epoch (epoch counts from 1)."""
    keys = list(history)
    return [
        {"epoch": epoch + 1, **{key: history[key][epoch] for key in keys}}
        for epoch in range(len(history[keys[0]]))
    ]


def prediction_rows(arrays: Mapping[str, np.ndarray], upto: int = 200) -> list[dict]:
    """Truth and the forecasts of each mode at every test step below `upto` that windows
    forecast.

    arrays as evaluation saves them for a one-series study: test_series (T,),
    target_positions (m,), stateless (m,) (or (m, L) per-step forecasts, whose last step
    counts), and stateful (T,) where stateful[t] forecasts step t + 1, if the model has it.
    """
    series, stateless = arrays["test_series"], arrays["stateless"]
    if stateless.ndim == 2:
        stateless = stateless[:, -1]
    rows = []
    for i, step in enumerate(arrays["target_positions"]):
        if step < upto:
            row = {
                "step": int(step),
                "truth": float(series[step]),
                "stateless": float(stateless[i]),
            }
            if "stateful" in arrays:
                row["stateful"] = float(arrays["stateful"][step - 1])
            rows.append(row)
    return rows


def stateful_verdicts(metrics: Mapping[str, Any]) -> list[dict]:
    """One row per model with a stateful mode in metrics.json ({study: {"wL": {arch:
    entry}}}): stateless and stateful MSE on the same targets, their ratio and the verdict."""
    return [
        {
            "study": study,
            "window": int(window.removeprefix("w")),
            "architecture": arch,
            "stateless MSE": entry["stateless_mse"],
            "stateful MSE": entry["stateful_mse"],
            "stateful / stateless": entry["stateful_to_stateless_mse"],
            "stateful is": (
                "worse" if entry["stateful_mse"] > entry["stateless_mse"] else "not worse"
            ),
        }
        for study, windows in metrics.items()
        for window, architectures in windows.items()
        for arch, entry in architectures.items()
        if "stateful_mse" in entry
    ]


def stateful_answer(verdicts: list[dict]) -> str:
    """The one-line answer to the first tutorial's "is stateful prediction ALWAYS worse?"."""
    if not verdicts:
        return "No model has been trained yet."
    better = [v for v in verdicts if v["stateful is"] == "not worse"]
    if not better:
        return f"Yes, so far: stateful prediction is worse for all {len(verdicts)} trained models."
    where = ", ".join(f"{v['study']} w{v['window']} {v['architecture']}" for v in better)
    return (
        f"No: stateful prediction is not worse for {len(better)} of {len(verdicts)} trained "
        f"models ({where})."
    )
