"""Aggregating per-model results into DVC metrics and plot data files."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from forecastlab.architectures import ARCHITECTURES
from forecastlab.io import atomic_path
from forecastlab.numerics import fingerprint_id
from forecastlab.stats import BETTER, NO_DIFFERENCE, WORSE, diebold_mariano, verdict

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


# The stateful modes, each compared with the stateless forecasts of the same windows, and
# their names in the verdict table.
STATEFUL_MODES = {
    "stateful": "stateful",
    "stateful_warm": "warm",
    "stateful_reset_L": "reset every L",
}
# The fewest forecasts the Diebold-Mariano test takes.
MIN_TESTED = 3


def window_errors(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The errors (forecast - target, float64) of the forecast made after each test window,
    stateless and in each stateful mode the model has, on the same targets in time order.

    arrays as evaluation saves them for a one-series study: test_targets and stateless
    (m,) (or (m, L) for per-step models, whose last step counts), target_positions (m,),
    and per stateful mode (T,) where forecasts[t] forecasts step t + 1.
    """
    stateless, targets = (np.asarray(arrays[k], np.float64) for k in ("stateless", "test_targets"))
    if stateless.ndim == 2:
        stateless, targets = stateless[:, -1], targets[:, -1]
    ends = arrays["target_positions"] - 1
    errors = {"stateless": stateless - targets}
    for mode in STATEFUL_MODES:
        if mode in arrays:
            errors[mode] = np.asarray(arrays[mode], np.float64)[ends] - targets
    return errors


def stateful_tests(arrays: Mapping[str, np.ndarray], level: float) -> dict[str, dict]:
    """Each stateful mode against the stateless forecasts of one model: the MSE ratio,
    the HLN-corrected Diebold-Mariano test of their squared errors (see forecastlab.stats)
    and the verdict at `level`. {} for a model without stateful modes. Fewer than 3 test
    windows (the random walk's one) cannot be tested: p-value NaN, no significant
    difference."""
    errors = window_errors(arrays)
    stateless_mse = float(np.mean(errors["stateless"] ** 2))
    tests = {}
    for mode in STATEFUL_MODES:
        if mode in errors:
            ratio = float(np.mean(errors[mode] ** 2)) / stateless_mse
            n = len(errors[mode])
            if n < MIN_TESTED:
                test = {"statistic": math.nan, "p_value": math.nan, "n": n}
                tests[mode] = {**test, "ratio": ratio, "verdict": NO_DIFFERENCE}
                continue
            test = diebold_mariano(errors[mode], errors["stateless"])
            tests[mode] = {**test, "ratio": ratio, "verdict": verdict(test, level)}
    return tests


def stateful_verdicts(
    rows: Iterable[Mapping[str, Any]], tests: Mapping[tuple[str, int, str], Mapping[str, dict]]
) -> list[dict]:
    """One row per model evaluated both ways: stateless and stateful MSE on the same
    targets, how the model was trained, and for each stateful mode its MSE ratio to
    stateless, the Diebold-Mariano p-value and the verdict (tests: stateful_tests of each
    model, keyed by (study, window, architecture))."""
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
        verdict_row = {
            "study": study,
            "window": window,
            "architecture": arch,
            "trained": trained,
            "stateless MSE": mse["stateless"],
            "stateful MSE": mse["stateful"],
        }
        for mode, name in STATEFUL_MODES.items():
            test = tests[(study, window, arch)][mode]
            verdict_row |= {
                f"{name} / stateless": test["ratio"],
                f"{name} p (DM)": test["p_value"],
                f"{name} is": test["verdict"],
            }
        verdicts.append(verdict_row | {"fingerprint": mse["fingerprint"]})
    return verdicts


def verdict_counts(verdicts: Iterable[Mapping[str, Any]], mode: str = "stateful") -> dict:
    """How many models each verdict class holds for one stateful mode (its table name)."""
    counts = dict.fromkeys((WORSE, NO_DIFFERENCE, BETTER), 0)
    for row in verdicts:
        counts[row[f"{mode} is"]] += 1
    return counts


def stateful_answer(verdicts: list[dict], level: float) -> str:
    """The answer to the first tutorial's "is stateful prediction ALWAYS worse?", over the
    models trained on windows (stateless), as the tutorial's was: the count of each
    verdict of the Diebold-Mariano test at `level`."""
    asked = [v for v in verdicts if v["trained"] == "stateless"]
    if not asked:
        return "No model trained on windows has been evaluated statefully yet."
    counts = verdict_counts(asked)
    shown = ", ".join(f"{label} for {counts[label]}" for label in (WORSE, BETTER, NO_DIFFERENCE))
    start = "Yes, so far" if counts[WORSE] == len(asked) else "No"
    return (
        f"{start}: of {len(asked)} window-trained models, stateful prediction is {shown} "
        f"(Diebold-Mariano test with the Harvey-Leybourne-Newbold correction, squared "
        f"errors, level {level:g}; one trained model each)."
    )


def verdict_count_rows(verdicts: Iterable[Mapping[str, Any]]) -> list[dict]:
    """Per study and way of training (on windows, `stateless`, or `stateful`), how many
    models each verdict class of the stateful mode holds."""
    groups: dict[tuple[str, str], list] = {}
    for row in verdicts:
        groups.setdefault((row["study"], row["trained"]), []).append(row)
    return [
        {"study": study, "trained": trained, **verdict_counts(rows)}
        for (study, trained), rows in sorted(
            groups.items(), key=lambda item: (item[0][0], item[0][1] == "stateful")
        )
    ]


def study_stateful_rows(runs: Iterable[Mapping[str, Any]], level: float) -> list[dict]:
    """A study report's stateful table: per model with stateful modes (runs with their
    predictions loaded as "arrays"), each mode's MSE ratio to stateless, its
    Diebold-Mariano p-value and verdict at `level`."""
    rows = []
    for run in sorted(runs, key=lambda r: (r["window"], r["arch"])):
        if "stateful" not in run["arrays"]:
            continue
        row = {"architecture": run["arch"], "window": run["window"]}
        for mode, test in stateful_tests(run["arrays"], level).items():
            name = STATEFUL_MODES[mode]
            row |= {
                f"{name} / stateless": test["ratio"],
                f"{name} p (DM)": test["p_value"],
                f"{name} is": test["verdict"],
            }
        rows.append(row)
    return rows
