"""The tables and figures the HTML reports show, computed here so that the notebooks only
call and display (and so that each has a test).

A *run* is one trained model as `read_runs` loads it: its first seed's
`forecastlab.layout.runs_of` dict (study, window, arch, seed, hyperparams, files) with
`evaluation` (eval.json), `training` (history.json), `verification` (verify.json),
`arrays` (predictions.npz) and `label` added, `replicates`: every seed's run, read
the same way, the first one first, and `spreads`: the model's metrics over its seeds as
the summarize job wrote them (results/aggregates.csv: forecastlab.summary.spreads_by_model).
Tables give each metric's mean over the seeds and its 95% interval from those; nothing here
recomputes what a job wrote. Figures of single forecasts and losses show the first seed.
Tables are lists of row dicts; figures are matplotlib Figures, or None when no run has
what they draw. Figures are closed in pyplot before they are returned, so a notebook
shows each once, where it calls `display`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from pandas.io.formats.style import Styler

from forecastlab import comparison
from forecastlab.io import read_json, read_npz
from forecastlab.layout import replicates_of, run_name, runs_of
from forecastlab.modes import DRAWN, compared_of
from forecastlab.summary import (
    STATEFUL_MODES,
    STATEFUL_TEST_COLUMNS,
    Spread,
    prediction_rows,
    spreads_by_model,
)

Run = dict[str, Any]
ERROR_COLUMNS = ["MSE", "RMSE", "MAE", "RMSE (original units)", "MASE", "final val_loss"]
# The error columns but MSE, by the eval.json metric each shows.
ERROR_METRICS = {"RMSE": "rmse", "MAE": "mae", "RMSE (original units)": "rmse_orig", "MASE": "mase"}
VERDICT_COLOURS = {"worse": "#c0392b", "better": "#2e86c1", "no significant difference": "#7f8c8d"}


def read_runs(
    studies: Mapping[str, Mapping[str, Any]], aggregates: Sequence[Mapping[str, Any]]
) -> list[Run]:
    """Every trained model of `studies` (params.yaml's mapping), one per (study, window,
    arch), with the files of each of its seeds read and its spreads from `aggregates`
    (results/aggregates.csv as read_table reads it; see the module's docstring)."""
    spreads = spreads_by_model(aggregates)
    models = []
    for replicates in replicates_of(runs_of(studies)):
        for run in replicates:
            run["evaluation"] = read_json(run["eval"])
            run["training"] = read_json(run["history"])
            run["verification"] = read_json(run["verify"])
            run["arrays"] = read_npz(run["predictions"])
            run["label"] = f"{run['arch']}, window {run['window']}"
        first = replicates[0]
        model = (first["study"], first["window"], first["arch"])
        models.append(first | {"replicates": replicates, "spreads": spreads[model]})
    return models


# A metric no seed has a finite value of: the summarize job wrote no row for it.
NO_SPREAD: Spread = {"mean": np.nan, "sd": np.nan, "low": np.nan, "high": np.nan, "n": 0}


def spread(run: Run, mode: str, metric: str) -> Spread:
    """A metric of one mode over the model's seeds, as the summarize job aggregated it:
    mean, sd, 95% interval, n (NO_SPREAD without a finite value)."""
    return run["spreads"][mode].get(metric, NO_SPREAD)


def interval_text(found: Mapping[str, float]) -> str:
    """An interval as a table shows it: "low to high", or "one seed"."""
    if found["n"] < 2:
        return "one seed"
    return f"{found['low']:.3g} to {found['high']:.3g}"


def final_val_loss(run: Run, mode: str) -> float:
    """The final val_loss averaged over the seeds (NaN for models without one); the
    summarize job repeats it in each mode's rows."""
    return spread(run, mode, "final_val_loss")["mean"]


def verified_text(run: Run) -> str:
    failed = sum(not seed["verification"]["passed"] for seed in run["replicates"])
    return "passed" if not failed else f"FAILED ({failed} of {len(run['replicates'])} seeds)"


def highlighted(
    rows: Sequence[Mapping[str, Any]], errors: Sequence[str], formats: Mapping | None = None
) -> Styler:
    """rows as a table without index, the lowest value of each error column in bold, a
    missing value (one seed's interval, a baseline's val_loss) as a dash."""
    table = pd.DataFrame(rows)
    present = [column for column in errors if column in table and table[column].notna().any()]
    return (
        table.style.format(formats or {}, precision=6, na_rep="–")  # no interval, no val_loss
        .hide(axis="index")
        .highlight_min(subset=present, props="font-weight: bold; background-color: #e3f2e1")
    )


def comparison_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """One row per model and evaluation mode: its errors and final val_loss (means over
    the seeds), the MSE's 95% interval, and its verification."""
    rows = []
    for run in sorted(runs, key=lambda r: (r["arch"], r["window"])):
        for mode in run["evaluation"]["modes"]:
            mse = spread(run, mode, "mse")
            rows.append(
                {
                    "architecture": run["arch"],
                    "window": run["window"],
                    "target": run["evaluation"]["target"],
                    "mode": mode,
                    "seeds": mse["n"],
                    "MSE": mse["mean"],
                    "MSE 95% interval": interval_text(mse),
                    **{
                        column: spread(run, mode, metric)["mean"]
                        for column, metric in ERROR_METRICS.items()
                    },
                    "final val_loss": final_val_loss(run, mode),
                    "verified": verified_text(run),
                }
            )
    return rows


def scores(run: Run) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """kind -> (mode, metrics) of a model's forecasts that compete with other models'
    (forecastlab.modes.Mode.compared: its window forecasts and its iterated ones), each
    kind named as forecastlab.comparison names it."""
    evaluation = run["evaluation"]
    return {
        comparison.forecast_kind(found.multi_step, evaluation["horizon"]): (
            found.name,
            evaluation["modes"][found.name],
        )
        for found in compared_of(evaluation["target"])
        if found.name in evaluation["modes"]
    }


# The modes the MSE figure marks beside each model's bar: those drawn against the truth and
# tested against the window forecasts (the stateful one).
MARKED = tuple(name for name in DRAWN if name in STATEFUL_MODES)


def mse_figure(runs: Sequence[Run]) -> Figure | None:
    """The study at a glance, one panel per kind of forecast (scores): the MSE (log
    scale; mean over the seeds, with its 95% interval) of every model at each window
    length in the mode it was trained for (or iterated), and, for models with them, in
    the drawn modes tested against it (the stateful one: forecastlab.modes)."""
    kinds = sorted({kind for run in runs for kind in scores(run)})
    if not kinds:
        return None
    windows = sorted({run["window"] for run in runs})
    archs = sorted({run["arch"] for run in runs})
    figure, axes = plt.subplots(
        len(kinds), 1, figsize=(max(8.0, 0.7 * len(archs) + 3), 3.6 * len(kinds)), squeeze=False
    )
    width = 0.8 / len(windows)
    for ax, kind in zip(axes[:, 0], kinds, strict=True):
        tops: list[float] = []
        shown = [a for a in archs if any(r["arch"] == a and kind in scores(r) for r in runs)]
        for offset, window in enumerate(windows):
            here = {run["arch"]: run for run in runs if run["window"] == window}
            positions = [i + (offset - (len(windows) - 1) / 2) * width for i in range(len(shown))]
            mse = [_mse(here.get(a), kind) for a in shown]
            means = np.array([m["mean"] for m in mse])
            tops += [m["high"] if np.isfinite(m["high"]) else m["mean"] for m in mse]
            bars = ax.bar(
                positions,
                means,
                width * 0.9,
                # The 95% interval over the seeds (none drawn for one seed).
                yerr=np.nan_to_num(
                    [means - [m["low"] for m in mse], [m["high"] for m in mse] - means]
                ),
                error_kw={"elinewidth": 0.8, "capsize": 2},
                label=f"window {window}",
            )
            for mode in MARKED:
                marked = [
                    spread(here[a], mode, "mse")["mean"]
                    if kind == "next value" and a in here and mode in here[a]["evaluation"]["modes"]
                    else np.nan
                    for a in shown
                ]
                if any(np.isfinite(marked)):
                    colour = bars.patches[0].get_facecolor()
                    ax.scatter(
                        positions,
                        marked,
                        marker="v",
                        color=colour,
                        edgecolor="k",
                        zorder=3,
                        label=f"window {window}, {mode}",
                    )
        ax.set_xticks(range(len(shown)), shown, rotation=30, ha="right")
        ax.set(yscale="log", ylabel="test MSE", title=f"Forecasts of the {kind}")
        _floor(ax, np.nanmax(tops))
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))  # off the bars
    return finished(figure)


def _floor(ax: Axes, top: float, decades: int = 9) -> None:
    """Start a log axis `decades` below `top`: an MSE of float rounding (a seasonal naive
    forecast of an exact sine, 1e-25) would squash every other bar. Bars that end below
    the floor are labelled "~0" there, and a whisker whose lower end is not positive
    (a wide interval of a small mean) runs to it."""
    floor = top * 10.0**-decades
    if ax.get_ylim()[0] >= floor:
        return
    ax.set_ylim(bottom=floor)
    for bar in ax.patches:
        if 0 <= bar.get_height() < floor:
            x = bar.get_x() + bar.get_width() / 2
            ax.text(x, floor, "~0", ha="center", va="bottom", fontsize="x-small")


def _mse(run: Run | None, kind: str) -> Spread:
    """The run's MSE over its seeds (spread) in its forecasts of `kind` (scores); NaN
    without the run or them."""
    found = scores(run) if run is not None else {}
    if kind not in found:
        return NO_SPREAD
    return spread(run, found[kind][0], "mse")


def finished(figure: Figure) -> Figure:
    """Lay the figure out and close it in pyplot (the caller displays it)."""
    figure.tight_layout()
    plt.close(figure)
    return figure


def grid(count: int, columns: int = 4, size: tuple[float, float] = (4.5, 3)) -> list[Axes]:
    """`count` panels of a new figure, `columns` a row: the flat list of their axes."""
    rows = -(-count // columns)
    figure, axes = plt.subplots(
        rows,
        min(count, columns),
        figsize=(size[0] * min(count, columns), size[1] * rows),
        squeeze=False,
    )
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    return list(axes.flat[:count])


def loss_figure(runs: Sequence[Run]) -> Figure | None:
    """Each trained model's per-epoch losses on a log scale, one panel a model."""
    trained = [run for run in runs if run["training"]["history"]]
    if not trained:
        return None
    axes = grid(len(trained))
    for ax, run in zip(axes, trained, strict=True):
        for key, values in run["training"]["history"].items():
            ax.plot(np.arange(1, len(values) + 1), values, label=key)
        ax.set(yscale="log", xlabel="epoch", ylabel="loss", title=run["label"])
        ax.legend()
    return finished(axes[0].figure)


def one_step_figure(runs: Sequence[Run], upto: int = 100) -> Figure | None:
    """One panel per window length: the truth and each one-step model's forecasts of the
    first `upto` test steps, stateless (solid) and stateful (dotted)."""
    one_step = [
        run
        for run in runs
        if "target_positions" in run["arrays"]
        and run["evaluation"]["target"] in ("next", "shifted")
    ]
    windows = sorted({run["window"] for run in one_step})
    if not windows:
        return None
    figure, axes = plt.subplots(len(windows), 1, figsize=(15, 3.2 * len(windows)), squeeze=False)
    for ax, window in zip(axes[:, 0], windows, strict=True):
        drawn_truth = False
        for run in [r for r in one_step if r["window"] == window]:
            aligned = pd.DataFrame(prediction_rows(run["arrays"], upto=upto))
            if aligned.empty:
                continue
            if not drawn_truth:
                ax.plot(
                    aligned["step"], aligned["truth"], "k", linewidth=5, alpha=0.2, label="truth"
                )
                drawn_truth = True
            # The window forecasts first, labelled; the model's other lines in their colour.
            drawn = [name for name in DRAWN if name in aligned]
            first = drawn[0]
            (line,) = ax.plot(aligned["step"], aligned[first], DRAWN[first], label=run["arch"])
            for name in drawn[1:]:
                ax.plot(aligned["step"], aligned[name], DRAWN[name], color=line.get_color())
        ax.set(title=f"window {window}", xlabel="test step")
        ax.legend(loc="upper right", ncol=4, fontsize="small")
    return finished(figure)


def horizon_results(runs: Sequence[Run]) -> list[tuple[Run, str, Mapping[str, Any]]]:
    """(run, mode, metrics) of every mode scored per step ahead."""
    return [
        (run, mode, metrics)
        for run in runs
        for mode, metrics in run["evaluation"]["modes"].items()
        if "per_horizon_mse" in metrics
    ]


def horizon_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """The MSE at each step ahead (columns t+1 ...; means over the seeds) of every
    multi-step strategy."""
    rows = []
    for run, mode, metrics in horizon_results(runs):
        # The summarize job names the MSE k steps ahead mse_step_k.
        steps = [
            spread(run, mode, f"mse_step_{k}")["mean"]
            for k in range(1, len(metrics["per_horizon_mse"]) + 1)
        ]
        rows.append(
            {
                "architecture": run["arch"],
                "window": run["window"],
                "strategy": mode,
                "seeds": len(run["replicates"]),
                **{f"t+{k + 1}": float(v) for k, v in enumerate(steps)},
            }
        )
    return rows


def step_columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The per-step-ahead columns (t+1 ...) of horizon_rows' table."""
    return [column for column in rows[0] if column.startswith("t+")] if rows else []


def horizon_figure(runs: Sequence[Run]) -> Figure | None:
    """Left: MSE per step ahead of each strategy; right: their forecasts of the first
    test series after its window, with the truth."""
    ahead = horizon_results(runs)
    if not ahead:
        return None
    figure, (left, right) = plt.subplots(1, 2, figsize=(15, 4))
    for run, mode, metrics in ahead:
        mse = metrics["per_horizon_mse"]
        left.plot(np.arange(1, len(mse) + 1), mse, marker="o", label=f"{run['arch']} ({mode})")
        evaluation = run["evaluation"]
        compared = next(c for c in compared_of(evaluation["target"]) if c.name == mode)
        forecast = compared.forecasts(run["arrays"])[0]
        right.plot(np.arange(1, len(forecast) + 1), forecast, marker="x", label=run["arch"])
    series, window = ahead[0][0]["arrays"]["test_series"], ahead[0][0]["window"]
    if series.ndim == 2:  # a panel of series: the first one's values after its window
        truth = series[0, window:]
        right.plot(np.arange(1, len(truth) + 1), truth, "k", linewidth=5, alpha=0.2, label="truth")
    left.set(xlabel="steps ahead", ylabel="MSE", yscale="log", title="MSE per horizon step")
    right.set(xlabel="steps ahead", title="first test series")
    left.legend(fontsize="small", ncol=2)
    right.legend(fontsize="small", ncol=2)
    return finished(figure)


def dropout_runs(runs: Sequence[Run]) -> list[Run]:
    return [run for run in runs if "mc_dropout" in run["evaluation"]["modes"]]


def dropout_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Passes, MSE of the mean and 95% interval coverage of each MC-dropout model (means
    over the seeds)."""
    return [
        {
            "architecture": run["arch"],
            "window": run["window"],
            "seeds": len(run["replicates"]),
            "passes": run["evaluation"]["modes"]["mc_dropout"]["samples"],
            "MSE of the mean": spread(run, "mc_dropout", "mse")["mean"],
            "95% interval coverage": spread(run, "mc_dropout", "coverage_95")["mean"],
        }
        for run in dropout_runs(runs)
    ]


def dropout_figure(runs: Sequence[Run], shown: int = 60) -> Figure | None:
    """Each MC-dropout model's mean and 95% interval over its first `shown` test targets."""
    dropout = dropout_runs(runs)
    if not dropout:
        return None
    axes = grid(len(dropout), columns=1, size=(15, 3.2))
    for ax, run in zip(axes, dropout, strict=True):
        arrays = run["arrays"]
        steps = np.arange(len(arrays["test_targets"]))[:shown]
        lower, upper = arrays["mc_lower"][:shown], arrays["mc_upper"][:shown]
        ax.fill_between(steps, lower, upper, alpha=0.3, label="95% interval")
        ax.plot(steps, arrays["mc_mean"][:shown], label="mean")
        ax.plot(steps, arrays["test_targets"][:shown], "k.", label="truth")
        ax.set(title=f"{run['label']}: first {shown} test forecasts", xlabel="test window")
        ax.legend(loc="upper right")
    return finished(axes[0].figure)


def hidden_state_figure(runs: Sequence[Run], steps: int = 50) -> Figure | None:
    """The first unit of the last recurrent layer over the first `steps` test steps, as
    Keras carried it (predictions.npz) and as the verify job computed it in numpy from the
    exported weights (its hidden.npz, `stateful_hidden` (T, units))."""
    carried = [run for run in runs if "stateful_hidden" in run["arrays"]]
    if not carried:
        return None
    axes = grid(len(carried))
    for ax, run in zip(axes, carried, strict=True):
        keras_states = run["arrays"]["stateful_hidden"][:steps, 0]
        hand_states = read_npz(run["hidden"])["stateful_hidden"][:steps, 0]
        ax.plot(keras_states, linewidth=5, alpha=0.3, label="Keras")
        ax.plot(hand_states, "*", label="by hand")
        ax.set(title=run["label"], xlabel="test step")
        ax.legend(loc="upper right")
    return finished(axes[0].figure)


def verification_rows(runs: Sequence[Run]) -> list[dict[str, Any]]:
    """Per model, seed and verified mode: the largest |hand - Keras|, values compared,
    the tolerance and the result."""
    return [
        {
            "architecture": run["arch"],
            "window": run["window"],
            "seed": seed["seed"],
            "mode": mode,
            "max |hand - Keras|": result["max_abs_error"],
            "values compared": result["n_compared"],
            "tolerance": result.get("atol", seed["verification"]["atol"]),
            "result": "passed" if result["passed"] else "FAILED",
        }
        for run in runs
        for seed in run["replicates"]
        for mode, result in seed["verification"]["modes"].items()
    ]


# A study report's verdict columns of results/stateful_vs_stateless.csv: the model, its
# seeds and each stateful mode's ratio, interval, p-value and verdict.
STUDY_VERDICT_COLUMNS = ("architecture", "window", "seeds", *STATEFUL_TEST_COLUMNS)


def study_verdict_rows(verdicts: Sequence[Mapping[str, Any]], study: str) -> list[dict[str, Any]]:
    """A study's rows of the summarize job's verdict table (results/stateful_vs_stateless.csv,
    as read_table reads it), by window and architecture, with STUDY_VERDICT_COLUMNS."""
    rows = sorted(
        (row for row in verdicts if row["study"] == study),
        key=lambda row: (int(row["window"]), row["architecture"]),
    )
    return [{column: row[column] for column in STUDY_VERDICT_COLUMNS} for row in rows]


def answer_figure(verdicts: Sequence[Mapping[str, Any]]) -> Figure | None:
    """The stateful answer at a glance: every model's stateful / stateless MSE ratio on a
    log scale (geometric mean over the seeds, with its 95% interval), one row a model
    grouped by study, coloured by its Diebold-Mariano verdict,
    a circle when trained on windows and a diamond when trained statefully (rows of
    results/stateful_vs_stateless.csv)."""
    mode = STATEFUL_MODES["stateful"]
    rows = sorted(
        verdicts, key=lambda v: (v["study"], v["trained"], int(v["window"]), v["architecture"])
    )
    if not rows:
        return None
    figure, ax = plt.subplots(figsize=(9, 0.22 * len(rows) + 1.5))
    positions = np.arange(len(rows))[::-1]
    for verdict, colour in VERDICT_COLOURS.items():
        for trained, marker in (("stateless", "o"), ("stateful", "D")):
            chosen = [
                i
                for i, row in enumerate(rows)
                if row[f"{mode} is"] == verdict and row["trained"] == trained
            ]
            if not chosen:
                continue
            ratio = np.array([rows[i][f"{mode} / stateless"] for i in chosen])
            low = np.array([rows[i][f"{mode} / stateless low"] for i in chosen], float)
            high = np.array([rows[i][f"{mode} / stateless high"] for i in chosen], float)
            ax.errorbar(
                ratio,
                positions[chosen],
                # The 95% interval over the seeds (none for one seed).
                xerr=np.nan_to_num([ratio - low, high - ratio]),
                fmt=marker,
                color=colour,
                ecolor=colour,
                elinewidth=1,
                capsize=2,
                label=f"{verdict}: {len(chosen)} {trained}-trained",
                zorder=3,
            )
    ax.axvline(1.0, color="k", linewidth=0.8)
    labels = [run_name(r["study"], r["window"], r["architecture"]) for r in rows]
    ax.set_yticks(positions, labels, fontsize=7)
    ax.set(
        xscale="log",
        xlabel="stateful MSE / stateless MSE (log scale; right of 1: the stateful MSE is higher)",
        ylim=(-1, len(rows)),
    )
    ax.grid(axis="x", which="both", alpha=0.3)
    # Above the axes, where no point can hide behind it.
    ax.legend(
        loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False, fontsize="small"
    )
    figure.suptitle("Is stateful prediction always worse? One point per model, its seeds' interval")
    return finished(figure)


def links(pages: Mapping[str, str]) -> str:
    """An HTML list of links: {title: relative path} -> <ul><li><a ...>."""
    import html

    items = "".join(
        f'<li><a href="{html.escape(path)}">{html.escape(title)}</a></li>'
        for title, path in pages.items()
    )
    return f"<ul>{items}</ul>"


# Which model is best: the tables of forecastlab.comparison as the summarize step wrote
# them (results/pairwise_tests.csv, results/model_confidence_set.csv, results/claims.csv).
# The reports read them; nothing here recomputes a test.


def count(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun it counts: "1 model", "3 models", "2 studies"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def read_table(path: str) -> list[dict[str, Any]]:
    """A results CSV as a list of row dicts (empty cells as NaN)."""
    return pd.read_csv(path).to_dict("records")


def _of_study(rows: Sequence[Mapping[str, Any]], study: str | None) -> list[Mapping[str, Any]]:
    return [row for row in rows if study is None or row["study"] == study]


def _group_key(row: Mapping[str, Any]) -> tuple[str, int, bool, str]:
    """Groups in reading order: study, window, the next value before the next H values."""
    return (row["study"], int(row["window"]), row["forecast"] != "next value", row["forecast"])


def best_model_rows(
    confidence_set: Sequence[Mapping[str, Any]], study: str | None = None
) -> list[dict[str, Any]]:
    """Per study, window and kind of forecast: the best models, the model confidence set
    (lowest MSE first, each with its MCS p-value), how many models competed, and the
    lowest MSE's model, which the set may hold beside others."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in _of_study(confidence_set, study):
        groups.setdefault(_group_key(row), []).append(row)
    rows = []
    for (study_name, window, _, kind), members in sorted(groups.items()):
        ranked = sorted(members, key=lambda r: float(r["MSE"]))
        inside = [r for r in ranked if _in_set(r)]
        testable = all(np.isfinite(float(r["MCS p"])) for r in members)
        shown = ", ".join(
            f"{r['model']} ({float(r['MCS p']):.2g})" if testable else r["model"] for r in inside
        )
        rows.append(
            {
                "study": study_name,
                "window": window,
                "forecast": kind,
                "best models (MCS p-value)": shown
                if testable
                else f"{shown}: too few test targets ({int(members[0]['targets'])}) to tell",
                "in the set": f"{len(inside)} of {len(members)}",
                "lowest MSE": f"{ranked[0]['model']} ({float(ranked[0]['MSE']):.3g})",
            }
        )
    return rows


def _in_set(row: Mapping[str, Any]) -> bool:
    return row["in set"] is True or str(row["in set"]) == "True"


def confidence_set_table(
    confidence_set: Sequence[Mapping[str, Any]], study: str | None = None
) -> list[dict[str, Any]]:
    """Every model of every group with its strategy, seeds, MSE (mean over targets and
    seeds), rank by MSE, MCS p-value and whether it is in the set."""
    return [
        {
            "window": int(row["window"]),
            "forecast": row["forecast"],
            "architecture": row["model"],
            "strategy": row["strategy"],
            "seeds": int(row["seeds"]),
            "MSE": float(row["MSE"]),
            "rank": int(row["rank"]),
            "MCS p-value": float(row["MCS p"]),
            "in the set": "yes" if _in_set(row) else "no",
        }
        for row in sorted(
            _of_study(confidence_set, study), key=lambda r: (*_group_key(r), int(r["rank"]))
        )
    ]


def p_text(p: float) -> str:
    """A p-value as a cell shows it: two significant digits, "<1e-4" below that, "–"
    when no test was possible."""
    if not np.isfinite(p):
        return "–"
    return "<1e-4" if p < 1e-4 else f"{p:.2g}"


def pairwise_matrix(
    rows: Sequence[Mapping[str, Any]],
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """One group's pairwise rows -> the models by MSE (lowest first; with their strategy,
    "rnn1 (iterative)", in a multi-step group), the Holm-adjusted p-values (k, k) and the
    direction (k, k): +1 where the row's model has the lower expected loss (the test's
    statistic says so), -1 where higher, 0 on the diagonal."""

    def name(row: Mapping[str, Any], side: str) -> str:
        model = row[f"model {side}"]
        return model if row["forecast"] == "next value" else f"{model} ({row[f'strategy {side}']})"

    mse: dict[str, float] = {}
    for row in rows:
        mse[name(row, "a")], mse[name(row, "b")] = float(row["MSE a"]), float(row["MSE b"])
    models = sorted(mse, key=lambda name: (mse[name], name))
    index = {name: i for i, name in enumerate(models)}
    p = np.full((len(models), len(models)), np.nan)
    sign = np.zeros((len(models), len(models)))
    for row in rows:
        a, b = index[name(row, "a")], index[name(row, "b")]
        p[a, b] = p[b, a] = float(row["p (Holm)"])
        statistic = float(row["statistic"])  # positive: a's loss is larger
        direction = 0.0 if np.isnan(statistic) else -float(np.sign(statistic))
        sign[a, b], sign[b, a] = direction, -direction
    return models, p, sign


def pairwise_figure(
    pairwise: Sequence[Mapping[str, Any]], level: float, study: str | None = None
) -> Figure | None:
    """One heat map per window and kind of forecast: cell (row, column) compares the row's
    model with the column's, blue where the row's is better, red where worse, the deeper
    the smaller the Holm-adjusted Diebold-Mariano p-value (its text; bold below `level`).
    Models in order of MSE, lowest first."""
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    for row in _of_study(pairwise, study):
        groups.setdefault(_group_key(row), []).append(row)
    if not groups:
        return None
    sizes = [len(pairwise_matrix(rows)[0]) for rows in groups.values()]
    side = max(4.0, 0.55 * max(sizes) + 2.5)
    figure, axes = plt.subplots(
        len(groups), 1, figsize=(side + 1.5, side * len(groups)), layout="constrained"
    )
    axes = np.atleast_1d(axes)
    image = None
    for ax, ((_, window, _, kind), rows) in zip(axes, sorted(groups.items()), strict=True):
        models, p, sign = pairwise_matrix(rows)
        # Evidence on a scale of -log10 p, capped at 4 (p < 1e-4), signed by the direction.
        strength = np.where(np.isfinite(p), np.minimum(-np.log10(np.maximum(p, 1e-300)), 4), 0)
        image = ax.imshow(sign * strength, cmap="RdBu", vmin=-4, vmax=4)
        for i in range(len(models)):
            for j in range(len(models)):
                if i == j:
                    continue
                significant = bool(np.isfinite(p[i, j]) and p[i, j] < level)
                ax.text(
                    j,
                    i,
                    p_text(p[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    fontweight="bold" if significant else "normal",
                    color="white" if strength[i, j] > 2.5 else "black",
                )
        ax.set_xticks(range(len(models)), models, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(models)), models, fontsize=8)
        ax.set_title(f"window {window}, {kind}", fontsize=10)
    colourbar = figure.colorbar(image, ax=list(axes), shrink=0.6)
    colourbar.set_label(
        "row's model better (blue) or worse (red) than column's: -log10 p (Holm), capped at 4"
    )
    plt.close(figure)
    return figure


def claim_table(claims: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The tutorials' claims as the index shows them: claim, source, where it was tested,
    models compared, verdict and the Holm-adjusted p-value that decides it."""
    return [
        {
            "claim": row["claim"],
            "source": row["source"],
            "tested on": f"{row['study']}, window {int(row['window'])}"
            if np.isfinite(float(row["window"]))
            else f"{row['study']}: not in these params",
            "models compared": row["models compared"],
            "verdict": row["verdict"],
            "p-value (Holm)": p_text(float(row["p (Holm)"])),
        }
        for row in claims
    ]
