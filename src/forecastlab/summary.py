"""Aggregating per-model results into DVC metrics and plot data files."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from forecastlab.architectures import ARCHITECTURES
from forecastlab.io import atomic_path
from forecastlab.numerics import fingerprint_id

# The columns that name a summary row.
ROW_KEYS = ("study", "window", "architecture", "mode")
# The columns that describe how a row was made rather than measure it.
ABOUT_KEYS = ("trained", "fingerprint")


def run_fingerprint(training: Mapping[str, Any], evaluation: Mapping[str, Any]) -> str:
    """The id of the environment (numerics.fingerprint) that trained and evaluated a model:
    one id when both ran in the same, "<training id>/<evaluation id>" when not."""
    ids = [fingerprint_id(part["environment"]) for part in (training, evaluation)]
    return ids[0] if ids[0] == ids[1] else "/".join(ids)


def environments(records: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """Every distinct environment of `records` (history or eval contents) by its id."""
    return {fingerprint_id(r["environment"]): r["environment"] for r in records}


def summary_rows(
    run: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    training: Mapping[str, Any],
    verification: Mapping[str, Any],
) -> list[dict]:
    """One row per evaluation mode of one model (run: study, window, arch): its metrics,
    per-horizon MSE as mse_step_k, how it was trained, and its verification."""
    trained = (
        "stateful"
        if ARCHITECTURES[run["arch"]].stateful_training
        else ("stateless" if training["history"] else "not trained")
    )
    common = {
        "final_val_loss": training.get("final_val_loss"),
        "verify_max_abs_error": max(m["max_abs_error"] for m in verification["modes"].values()),
        "verified": bool(verification["passed"]),
        "fingerprint": run_fingerprint(training, evaluation),
    }
    rows = []
    for mode, metrics in evaluation["modes"].items():
        values = {k: v for k, v in metrics.items() if k not in ("n", "samples", "per_horizon_mse")}
        steps = {f"mse_step_{k + 1}": v for k, v in enumerate(metrics.get("per_horizon_mse", []))}
        rows.append(
            {
                "study": run["study"],
                "window": run["window"],
                "architecture": run["arch"],
                "mode": mode,
                "trained": trained,
                **values,
                **steps,
                **common,
            }
        )
    return rows


def metrics_tree(rows: Iterable[Mapping[str, Any]]) -> dict:
    """summary rows -> {study: {"wL": {arch: {mode: {metric: value}}}}}, as DVC metrics
    (`dvc metrics diff` then names each changed value by its path), and "fingerprint":
    the ids of the environments that made them, comma-separated."""
    rows = list(rows)
    tree: dict = {"fingerprint": ",".join(sorted({row["fingerprint"] for row in rows}))}
    for row in rows:
        values = {k: v for k, v in row.items() if k not in ROW_KEYS + ABOUT_KEYS}
        study = tree.setdefault(row["study"], {})
        arch = study.setdefault(f"w{row['window']}", {}).setdefault(row["architecture"], {})
        arch[row["mode"]] = values
    return tree


def write_csv(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Rows as a CSV with a header of every key in the order first seen (a row without
    a key leaves its cell empty), written atomically."""
    rows = list(rows)
    columns = list(dict.fromkeys(key for row in rows for key in row))
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
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


def stateful_verdicts(rows: Iterable[Mapping[str, Any]]) -> list[dict]:
    """From summary rows, one row per model evaluated both ways: stateless and stateful
    MSE on the same targets, their ratio, the warm and reset-every-L ratios, how the
    model was trained, and the verdict."""
    by_model: dict[tuple, dict] = {}
    for row in rows:
        key = (row["study"], int(row["window"]), row["architecture"], row["trained"])
        by_model.setdefault(key, {"fingerprint": row["fingerprint"]})[row["mode"]] = float(
            row["mse"]
        )
    verdicts = []
    for (study, window, arch, trained), mse in sorted(by_model.items()):
        if "stateful" not in mse:
            continue
        verdicts.append(
            {
                "study": study,
                "window": window,
                "architecture": arch,
                "trained": trained,
                "stateless MSE": mse["stateless"],
                "stateful MSE": mse["stateful"],
                "stateful / stateless": mse["stateful"] / mse["stateless"],
                "warm / stateless": mse["stateful_warm"] / mse["stateless"],
                "reset every L / stateless": mse["stateful_reset_L"] / mse["stateless"],
                "stateful is": "worse" if mse["stateful"] > mse["stateless"] else "not worse",
                "fingerprint": mse["fingerprint"],
            }
        )
    return verdicts


def stateful_answer(verdicts: list[dict]) -> str:
    """The one-line answer to the first tutorial's "is stateful prediction ALWAYS worse?",
    over the models trained on windows (stateless), as the tutorial's was."""
    asked = [v for v in verdicts if v["trained"] == "stateless"]
    if not asked:
        return "No model trained on windows has been evaluated statefully yet."
    better = [v for v in asked if v["stateful is"] == "not worse"]
    if not better:
        return (
            f"Yes, so far: stateful prediction is worse for all {len(asked)} window-trained models."
        )
    where = ", ".join(f"{v['study']} w{v['window']} {v['architecture']}" for v in better)
    return (
        f"No: stateful prediction is not worse for {len(better)} of {len(asked)} "
        f"window-trained models ({where})."
    )
