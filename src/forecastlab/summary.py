"""Aggregating per-model results into DVC metrics and plot data files."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from forecastlab.architectures import ARCHITECTURES
from forecastlab.io import atomic_path
from forecastlab.modes import DRAWN, VERSUS_STATELESS, forecasts_after_windows
from forecastlab.numerics import fingerprint_id
from forecastlab.stats import (
    BETTER,
    NO_DIFFERENCE,
    WORSE,
    diebold_mariano,
    interval,
    ratio_interval,
    verdict,
)

# The columns that name a summary row (one seed of one model, in one mode).
ROW_KEYS = ("study", "window", "architecture", "seed", "mode")
# The columns that name an aggregate row (one model in one mode, over its seeds).
MODEL_KEYS = ("study", "window", "architecture", "mode", "trained")
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
    """One row per evaluation mode of one model (run: study, window, arch, seed): its
    metrics, per-horizon MSE as mse_step_k, how it was trained, and its verification."""
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
                "seed": run["seed"],
                "mode": mode,
                "trained": trained,
                **values,
                **steps,
                **common,
            }
        )
    return rows


def aggregate_rows(rows: Iterable[Mapping[str, Any]], confidence: float = 0.95) -> list[dict]:
    """Summary rows (one per seed and mode) -> one row per model, mode and metric: the
    number of seeds, and the mean, standard deviation and t interval at `confidence`
    across them (forecastlab.stats.interval); `verified` says whether every seed's model
    passed. A metric a seed lacks (a mode without it) is averaged over the others."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[key] for key in MODEL_KEYS), []).append(row)
    aggregates = []
    for key, seeds in groups.items():
        named = dict(zip(MODEL_KEYS, key, strict=True))
        verified = all(row["verified"] for row in seeds)
        metrics = dict.fromkeys(
            k for row in seeds for k in row if k not in ROW_KEYS + ABOUT_KEYS + ("verified",)
        )
        for metric in metrics:
            values = [row[metric] for row in seeds if _is_number(row.get(metric))]
            if values:
                spread = interval(values, confidence)
                aggregates.append(
                    {**named, "metric": metric, "seeds": spread.pop("n"), **spread}
                    | {"verified": verified}
                )
    return aggregates


# A metric of a model over its seeds, as spreads_by_model gives it: mean, sd, interval, seeds.
Spread = dict[str, float]
# One model's spreads, by mode and then metric.
ModelSpreads = dict[str, dict[str, Spread]]


def spreads_by_model(
    aggregates: Iterable[Mapping[str, Any]],
) -> dict[tuple[str, int, str], ModelSpreads]:
    """aggregate_rows' rows (as written to results/aggregates.csv and read back) -> per
    model, mode and metric, the spread over the seeds as forecastlab.stats.interval
    gives it: {"mean", "sd", "low", "high", "n"} (n: the seeds)."""
    models: dict[tuple[str, int, str], ModelSpreads] = {}
    for row in aggregates:
        model = models.setdefault((row["study"], int(row["window"]), row["architecture"]), {})
        model.setdefault(row["mode"], {})[row["metric"]] = {
            **{key: float(row[key]) for key in ("mean", "sd", "low", "high")},
            "n": int(row["seeds"]),
        }
    return models


def _is_nan(value: Any) -> bool:
    """NaN (one seed's interval): JSON has no NaN, so DVC metrics hold null."""
    return isinstance(value, float) and math.isnan(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# What results/metrics.json holds for `dvc metrics diff`: per model, each mode's MSE in
# the scaled and the original units (seed mean and interval), whether every seed passed
# the hand verification, and the stateful verdicts with their p-values; per study, the
# answer's counts. Machine-dependent diagnostics (verify_max_abs_error) and the training
# figures stay in the CSV tables and MLflow.
METRICS = ("mse", "mse_orig")
# Significant digits kept: a change below them is float noise, not a finding.
METRIC_DIGITS = 6


def _shown(value: Any) -> float | None:
    """A metric as metrics.json holds it: METRIC_DIGITS significant digits; NaN (one
    seed's interval) as null, since JSON has no NaN."""
    if _is_nan(value):
        return None
    return float(f"{value:.{METRIC_DIGITS}g}")


def metrics_tree(
    aggregates: Iterable[Mapping[str, Any]],
    verdicts: Iterable[Mapping[str, Any]],
    fingerprints: Iterable[str],
) -> dict:
    """The DVC metrics: {study: {"wL": {arch: {"mse" and "mse_orig": {mode: {mean, low,
    high}}, "verified": bool, "verdicts": {stateful mode: {"is": verdict, "p": p-value}}}},
    "answer": {stateful mode: {verdict: count of window-trained models}}}}, and
    "fingerprint": the ids of the environments that made them. `dvc metrics diff` names
    each changed value by its path (sine.w10.gru.mse.stateful.mean)."""
    tree: dict = {"fingerprint": ",".join(sorted(set(fingerprints)))}
    for row in aggregates:
        study = tree.setdefault(row["study"], {})
        model = study.setdefault(f"w{row['window']}", {}).setdefault(row["architecture"], {})
        model["verified"] = model.get("verified", True) and bool(row["verified"])
        if row["metric"] in METRICS:
            model.setdefault(row["metric"], {})[row["mode"]] = {
                k: _shown(row[k]) for k in ("mean", "low", "high")
            }
    verdicts = list(verdicts)
    for row in verdicts:
        model = tree[row["study"]][f"w{row['window']}"][row["architecture"]]
        model["verdicts"] = {
            name: {"is": row[f"{name} is"], "p": _shown(row[f"{name} p (DM)"])}
            for name in STATEFUL_MODES.values()
            if f"{name} is" in row
        }
    asked = [row for row in verdicts if row["trained"] == "stateless"]
    for study in sorted({row["study"] for row in asked}):
        rows = [row for row in asked if row["study"] == study]
        tree[study]["answer"] = {
            name: verdict_counts(rows, name)
            for name in STATEFUL_MODES.values()
            if all(f"{name} is" in row for row in rows)
        }
    return tree


def write_csv(
    path: str | Path, rows: Iterable[Mapping[str, Any]], empty_columns: Sequence[str] = ()
) -> None:
    """Rows as a CSV with a header of every key in the order first seen (a row without
    a key leaves its cell empty), written atomically; without rows, a header of
    `empty_columns`, so that readers find a table with no rows rather than no table."""
    rows = list(rows)
    columns = list(dict.fromkeys(key for row in rows for key in row)) or list(empty_columns)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def prediction_rows(arrays: Mapping[str, np.ndarray], upto: int = 200) -> list[dict]:
    """Truth and each drawn forecast (forecastlab.modes.DRAWN: stateless, and stateful if
    the model has it) at every test step below `upto` that windows forecast.

    arrays as evaluation saves them for a one-series study: test_series (T,),
    target_positions (m,), and each mode's arrays (forecastlab.modes.Mode.after_windows).
    """
    series, positions = arrays["test_series"], arrays["target_positions"]
    drawn = {name: f for name, f in forecasts_after_windows(arrays).items() if name in DRAWN}
    return [
        {"step": int(step), "truth": float(series[step])}
        | {name: float(forecasts[i]) for name, forecasts in drawn.items()}
        for i, step in enumerate(positions)
        if step < upto
    ]


# The stateful modes, each compared with the stateless forecasts of the same windows, and
# their names in the verdict table (forecastlab.modes.Mode.versus_stateless).
STATEFUL_MODES = VERSUS_STATELESS
# The fewest forecasts the Diebold-Mariano test takes.
MIN_TESTED = 3


def window_errors(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The errors (forecast - target, float64) of the forecast made after each test window,
    stateless and in each stateful mode the model has, on the same targets in time order.

    arrays as evaluation saves them for a one-series study: test_targets (m,) (or (m, L)
    for per-step models, whose last step counts), target_positions (m,), and each mode's
    arrays (forecastlab.modes.Mode.after_windows).
    """
    targets = np.asarray(arrays["test_targets"], np.float64)
    if targets.ndim == 2:
        targets = targets[:, -1]
    after = forecasts_after_windows(arrays)
    return {
        name: np.asarray(after[name], np.float64) - targets
        for name in ("stateless", *STATEFUL_MODES)
        if name in after
    }


def has_stateful_forecasts(arrays: Mapping[str, np.ndarray]) -> bool:
    """Whether a model's saved arrays hold forecasts to test against the stateless ones."""
    return any(name in arrays for name in STATEFUL_MODES)


def stateful_tests(
    replicates: Sequence[Mapping[str, np.ndarray]], level: float, confidence: float = 0.95
) -> dict[str, dict]:
    """Each stateful mode against the stateless forecasts of one model, over its seed
    replicates (each seed's predictions.npz arrays, on the same test targets): the MSE
    ratio of each seed, their geometric mean and its interval at `confidence`
    (forecastlab.stats.ratio_interval), the HLN-corrected Diebold-Mariano test of the
    loss differential averaged over the seeds (see forecastlab.stats), and the verdict
    at `level`. {} for a model without stateful modes. Fewer than 3 test windows (the
    random walk's one) cannot be tested: p-value NaN, no significant difference."""
    errors = [window_errors(arrays) for arrays in replicates]
    tests = {}
    for mode in STATEFUL_MODES:
        if mode not in errors[0]:
            continue
        stateful = np.stack([seed[mode] for seed in errors])
        stateless = np.stack([seed["stateless"] for seed in errors])
        ratios = ratio_interval(
            np.mean(stateful**2, axis=1) / np.mean(stateless**2, axis=1), confidence
        )
        n = stateful.shape[1]
        if n < MIN_TESTED:
            test = {"statistic": math.nan, "p_value": math.nan, "n": n}
            found = NO_DIFFERENCE
        else:
            test = diebold_mariano(stateful, stateless)
            found = verdict(test, level)
        tests[mode] = {
            **test,
            "ratio": ratios["mean"],
            "ratio_low": ratios["low"],
            "ratio_high": ratios["high"],
            "seeds": len(errors),
            "verdict": found,
        }
    return tests


def stateful_columns(tests: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """stateful_tests' results as table columns, mode by mode (STATEFUL_MODES' names): the
    MSE ratio to stateless (geometric mean over seeds), its interval, the
    Diebold-Mariano p-value and the verdict."""
    columns: dict[str, Any] = {}
    for mode, test in tests.items():
        names = _mode_columns(STATEFUL_MODES[mode])
        columns |= dict(zip(names, (test[key] for key in _TEST_KEYS), strict=True))
    return columns


# A stateful mode's columns: its test's figures, under the mode's table name.
_TEST_KEYS = ("ratio", "ratio_low", "ratio_high", "p_value", "verdict")


def _mode_columns(name: str) -> tuple[str, ...]:
    return (
        f"{name} / stateless",
        f"{name} / stateless low",
        f"{name} / stateless high",
        f"{name} p (DM)",
        f"{name} is",
    )


# Every stateful mode's columns of the stateful table, in its order.
STATEFUL_TEST_COLUMNS = tuple(
    column for name in STATEFUL_MODES.values() for column in _mode_columns(name)
)
# The stateful table's columns, as stateful_verdicts writes them (kept by a table of none).
STATEFUL_COLUMNS = (
    *("study", "window", "architecture", "trained", "seeds", "stateless MSE", "stateful MSE"),
    *STATEFUL_TEST_COLUMNS,
    "fingerprint",
)


def stateful_verdicts(
    rows: Iterable[Mapping[str, Any]], tests: Mapping[tuple[str, int, str], Mapping[str, dict]]
) -> list[dict]:
    """One row per model evaluated both ways: its seeds, the stateless and stateful MSE
    on the same targets (means over the seeds), how the model was trained, and
    stateful_columns of its tests (stateful_tests of each model, keyed by (study,
    window, architecture))."""
    by_model: dict[tuple, dict] = {}
    for row in rows:
        key = (row["study"], int(row["window"]), row["architecture"], row["trained"])
        model = by_model.setdefault(key, {"fingerprints": set()})
        model["fingerprints"].add(row["fingerprint"])
        model.setdefault(row["mode"], []).append(float(row["mse"]))
    verdicts = []
    for (study, window, arch, trained), model in sorted(by_model.items()):
        if "stateful" not in model:
            continue
        verdicts.append(
            {
                "study": study,
                "window": window,
                "architecture": arch,
                "trained": trained,
                "seeds": len(model["stateful"]),
                "stateless MSE": float(np.mean(model["stateless"])),
                "stateful MSE": float(np.mean(model["stateful"])),
                **stateful_columns(tests[(study, window, arch)]),
                "fingerprint": ",".join(sorted(model["fingerprints"])),
            }
        )
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
    if not verdicts:
        return (
            "These params ask no stateful question: none of their models is a recurrent "
            "network forecasting one series one step ahead, the only kind with a state to carry."
        )
    asked = [v for v in verdicts if v["trained"] == "stateless"]
    if not asked:
        return "No model trained on windows has been evaluated statefully yet."
    counts = verdict_counts(asked)
    shown = ", ".join(f"{label} for {counts[label]}" for label in (WORSE, BETTER, NO_DIFFERENCE))
    start = "Yes, so far" if counts[WORSE] == len(asked) else "No"
    seeds = sorted({int(v["seeds"]) for v in asked})
    trained = (
        f"{seeds[0]} seed{'s' if seeds[0] > 1 else ''} each"
        if len(seeds) == 1
        else f"{seeds[0]} to {seeds[-1]} seeds each"
    )
    return (
        f"{start}: of {len(asked)} window-trained models, stateful prediction is {shown} "
        f"(Diebold-Mariano test with the Harvey-Leybourne-Newbold correction, squared "
        f"errors averaged over the seeds, level {level:g}; {trained})."
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


def parent_metrics(
    aggregates: Iterable[Mapping[str, Any]], verdict_row: Mapping[str, Any] | None
) -> dict[str, float]:
    """One model's aggregate rows (and its stateful_verdicts row, if it has one) as the
    metrics of its MLflow parent run, named as its seed runs name theirs
    (`{mode}_{metric}`, `val_loss`, `stateful_to_stateless_mse`) for the mean, with
    `_sd`, `_low` and `_high` beside it, and the stateful tests' p-values."""
    metrics: dict[str, float] = {}
    for row in aggregates:
        if row["metric"] == "verify_max_abs_error":
            continue
        name = "val_loss" if row["metric"] == "final_val_loss" else f"{row['mode']}_{row['metric']}"
        for part, suffix in (("mean", ""), ("sd", "_sd"), ("low", "_low"), ("high", "_high")):
            value = float(row[part]) if row[part] not in ("", None) else math.nan
            if math.isfinite(value):
                metrics[name + suffix] = value
    if verdict_row is not None:
        for mode, shown in STATEFUL_MODES.items():
            prefix = (
                "stateful_to_stateless_mse" if mode == "stateful" else f"{mode}_to_stateless_mse"
            )
            for column, suffix in (("", ""), (" low", "_low"), (" high", "_high")):
                value = float(verdict_row[f"{shown} / stateless{column}"])
                if math.isfinite(value):
                    metrics[prefix + suffix] = value
            p_value = float(verdict_row[f"{shown} p (DM)"])
            if math.isfinite(p_value):
                metrics[f"{mode}_dm_p_value"] = p_value
    return metrics
