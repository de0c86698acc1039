"""Which model is best: pairwise tests and a model confidence set per study, window and
kind of forecast.

Only forecasts of the same targets compete: the next value (each model's window
forecast when it learnt the next value, the last step's for per-step models), or the
next H values (direct and seq2seq models, and one-step models fed their own forecasts:
each multi-step strategy against the others). A *candidate* is one model's forecasts of
one kind; its loss at each test target is the squared error (averaged over the H steps
of a multi-step forecast), averaged over the model's seeds, as
`forecastlab.stats.diebold_mariano` averages the loss differential over the seeds:
the null hypothesis of every test is equal expected loss averaged over the training
seeds, and the seeds, which share the test targets, are not counted as samples.

Each pair of candidates gets the HLN-corrected Diebold-Mariano test of their loss
differential, and the family of a group's pairs Holm's adjustment; the group gets the
model confidence set at `statistics.level` (Hansen, Lunde and Nason 2011, through
`arch.bootstrap.MCS`). The tables these functions write are what the reports, the
claims (`forecastlab.claims`), metrics.json and MLflow read: nothing there recomputes a
test.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations
from typing import Any

import numpy as np

from forecastlab.layout import WINDOW
from forecastlab.modes import compared_of
from forecastlab.stats import (
    NO_DIFFERENCE,
    holm,
    loss_difference_test,
    model_confidence_set,
    verdict,
)

# The fewest test targets a test takes (the random walk's test part has one window).
MIN_TESTED = 3


def forecast_kind(multi_step: bool, horizon: int) -> str:
    """What forecasts compete on: "next value", or "next H values" for the multi-step
    strategies (direct, seq2seq, and iterated one-step; forecastlab.modes.Compared)."""
    return f"next {horizon} values" if multi_step else "next value"


def kind_key(kind: str) -> str:
    """A kind of forecast as a key of metrics.json and MLflow: next_value, next_10_values."""
    return kind.replace(" ", "_")


@dataclass
class Candidate:
    """One model's forecasts of one kind, over its seeds: errors (S, n) or (S, n, H)
    (forecast minus target) and the targets (n,) or (n, H) they forecast, in time order;
    `one_series` when the targets are steps of one series (their errors can be serially
    dependent) rather than one per independent series."""

    study: str
    window: int
    architecture: str
    mode: str
    kind: str
    errors: np.ndarray
    targets: np.ndarray
    one_series: bool

    @cached_property
    def losses(self) -> np.ndarray:
        """The squared error at each target (n,), averaged over the steps ahead and the
        seeds."""
        squared = self.errors.astype(np.float64) ** 2
        if squared.ndim == 3:
            squared = squared.mean(axis=2)
        return squared.mean(axis=0)

    @property
    def steps_ahead(self) -> int:
        return 1 if self.targets.ndim == 1 else self.targets.shape[1]


def candidates(
    study: str,
    window: int,
    architecture: str,
    target: str,
    horizon: int,
    replicates: Sequence[Mapping[str, np.ndarray]],
) -> list[Candidate]:
    """A model's candidates: each of its forecasts that compete (every mode's
    forecastlab.modes.Mode.compared: its window forecasts and, for one-step models that
    have them, its iterated ones), from each seed's predictions.npz arrays (replicates,
    first seed first), on the first seed's targets."""
    first = replicates[0]
    one_series = "target_positions" in first
    found = []
    for compared in compared_of(target):
        if compared.array not in first:
            continue
        truth = np.asarray(compared.targets(first, window, horizon), np.float64)
        forecasts = [np.asarray(compared.forecasts(seed), np.float64) for seed in replicates]
        kind = forecast_kind(compared.multi_step, horizon)
        errors = np.stack(forecasts) - truth
        found.append(
            Candidate(study, window, architecture, compared.name, kind, errors, truth, one_series)
        )
    return found


def groups(found: Iterable[Candidate]) -> dict[tuple[str, int, str], list[Candidate]]:
    """Candidates by (study, window, kind), in the order given. Every candidate of a
    group must forecast the same targets: a ValueError names the first that does not."""
    grouped: dict[tuple[str, int, str], list[Candidate]] = {}
    for candidate in found:
        key = (candidate.study, candidate.window, candidate.kind)
        here = grouped.setdefault(key, [])
        if here and not np.array_equal(here[0].targets, candidate.targets):
            raise ValueError(
                f"{WINDOW.format(study=candidate.study, length=candidate.window)}: "
                f"{candidate.architecture} "
                f"({candidate.mode}) forecasts other targets of the {candidate.kind} than "
                f"{here[0].architecture} ({here[0].mode})"
            )
        here.append(candidate)
    return grouped


def dependence_lag(group: Sequence[Candidate]) -> int:
    """The Diebold-Mariano test's horizon for a group: H for forecasts of the next H
    values of one series (the errors of overlapping targets are MA(H - 1)), else 1
    (one-step forecasts, or targets in independent series)."""
    first = group[0]
    return first.steps_ahead if first.one_series else 1


def block_length(group: Sequence[Candidate], block_size: int | None) -> int:
    """The bootstrap's mean block length: `block_size` if set; else sqrt(n) (arch's
    default) for targets along one series, whose losses may be serially dependent, and 1
    for targets in independent series."""
    if block_size is not None:
        return int(block_size)
    n = len(group[0].targets)
    return max(1, int(math.sqrt(n))) if group[0].one_series else 1


def _about(candidate: Candidate) -> dict[str, Any]:
    return {
        "study": candidate.study,
        "window": candidate.window,
        "forecast": candidate.kind,
    }


# The columns of pairwise_rows and confidence_set_rows, for a table of none (params
# whose every group has one model: baselines alone, one architecture).
PAIRWISE_COLUMNS = (
    *("study", "window", "forecast", "model a", "strategy a", "model b", "strategy b"),
    *("seeds a", "seeds b", "MSE a", "MSE b", "targets", "lag", "statistic", "p", "p (Holm)"),
    "a is",
)
SET_COLUMNS = (
    *("study", "window", "forecast", "model", "strategy", "seeds", "MSE", "rank", "MCS p"),
    *("in set", "models", "targets", "block"),
)


def pairwise_rows(group: Sequence[Candidate], level: float) -> list[dict[str, Any]]:
    """Every pair (a, b) of a group's candidates, a before b in the group's order: their
    MSEs (losses averaged over targets and seeds), the HLN-corrected Diebold-Mariano test
    of a's loss minus b's, its p-value and the Holm-adjusted p-value over the group's
    pairs, and the verdict of a against b at `level` from the adjusted p-value (worse,
    better, or no significant difference). Fewer than MIN_TESTED targets (or no more
    than the lag): NaN p-values, no significant difference."""
    lag = dependence_lag(group)
    tests = []
    for a, b in combinations(group, 2):
        d = a.losses - b.losses
        if len(d) < MIN_TESTED or lag >= len(d):
            tests.append({"statistic": math.nan, "p_value": math.nan, "n": len(d)})
        else:
            tests.append(loss_difference_test(d, lag))
    adjusted = holm([test["p_value"] for test in tests])
    rows = []
    for (a, b), test, p_holm in zip(combinations(group, 2), tests, adjusted, strict=True):
        found = (
            NO_DIFFERENCE
            if math.isnan(p_holm)
            else verdict({"statistic": test["statistic"], "p_value": p_holm}, level)
        )
        rows.append(
            {
                **_about(a),
                "model a": a.architecture,
                "strategy a": a.mode,
                "model b": b.architecture,
                "strategy b": b.mode,
                "seeds a": a.errors.shape[0],
                "seeds b": b.errors.shape[0],
                "MSE a": float(a.losses.mean()),
                "MSE b": float(b.losses.mean()),
                "targets": test["n"],
                "lag": lag,
                "statistic": test["statistic"],
                "p": test["p_value"],
                "p (Holm)": p_holm,
                "a is": found,
            }
        )
    return rows


def confidence_set_rows(
    group: Sequence[Candidate], level: float, mcs: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Each candidate of a group with its MSE, rank by MSE, MCS p-value and whether it is
    in the model confidence set at `level` (p-value above it), the bootstrap set by
    `mcs` (params' statistics.mcs: seed, reps, block_size; see block_length). Fewer than
    MIN_TESTED targets: no model can be excluded (in the set, p-value NaN)."""
    losses = np.column_stack([candidate.losses for candidate in group])
    n = losses.shape[0]
    block = block_length(group, mcs.get("block_size"))
    if n < MIN_TESTED:
        p_values = [math.nan] * len(group)
    else:
        p_values = model_confidence_set(losses, level, int(mcs["reps"]), block, int(mcs["seed"]))
    means = losses.mean(axis=0)
    ranks = np.argsort(np.argsort(means, kind="stable"), kind="stable") + 1
    return [
        {
            **_about(candidate),
            "model": candidate.architecture,
            "strategy": candidate.mode,
            "seeds": candidate.errors.shape[0],
            "MSE": float(mean),
            "rank": int(rank),
            "MCS p": p,
            "in set": bool(math.isnan(p) or p > level),
            "models": len(group),
            "targets": n,
            "block": block,
        }
        for candidate, mean, rank, p in zip(group, means, ranks, p_values, strict=True)
    ]


def compare(
    found: Iterable[Candidate], level: float, mcs: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The pairwise table and the confidence-set table of every group of `found`."""
    pairwise, members = [], []
    for group in groups(found).values():
        pairwise += pairwise_rows(group, level)
        members += confidence_set_rows(group, level, mcs)
    return pairwise, members


def set_members(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, int, str], list[str]]:
    """(study, window, forecast) -> the models in its confidence set, lowest MSE first,
    from confidence_set_rows' table (as written or read back from CSV)."""
    found: dict[tuple[str, int, str], list[tuple[float, str]]] = {}
    for row in rows:
        key = (row["study"], int(row["window"]), row["forecast"])
        members = found.setdefault(key, [])
        if _true(row["in set"]):
            members.append((float(row["MSE"]), row["model"]))
    return {key: [name for _, name in sorted(members)] for key, members in found.items()}


def _true(value: Any) -> bool:
    """A bool as written, or as read back from CSV ("True")."""
    return value is True or str(value) == "True"


def comparison_tree(
    members: Iterable[Mapping[str, Any]], pairwise: Iterable[Mapping[str, Any]], digits: int = 6
) -> dict[str, Any]:
    """What metrics.json holds of the comparisons, to merge into summary.metrics_tree:
    {study: {"wL": {"confidence_set": {kind: "a, b"}, "pairwise": {kind: {"pairs",
    "significant"}}, arch: {"mcs": {kind: {"in": bool, "p": MCS p-value or None}}}}}},
    kinds as kind_key names them (next_value, next_10_values)."""
    tree: dict[str, Any] = {}
    members = list(members)

    def window_of(row: Mapping[str, Any]) -> dict[str, Any]:
        return tree.setdefault(row["study"], {}).setdefault(f"w{int(row['window'])}", {})

    for row in members:
        p = float(row["MCS p"])
        model = window_of(row).setdefault(row["model"], {}).setdefault("mcs", {})
        model[kind_key(row["forecast"])] = {
            "in": _true(row["in set"]),
            "p": None if math.isnan(p) else float(f"{p:.{digits}g}"),
        }
    for (study, window, kind), names in set_members(members).items():
        shown = window_of({"study": study, "window": window})
        shown.setdefault("confidence_set", {})[kind_key(kind)] = ", ".join(names)
    for row in pairwise:
        counts = window_of(row).setdefault("pairwise", {})
        count = counts.setdefault(kind_key(row["forecast"]), {"pairs": 0, "significant": 0})
        count["pairs"] += 1
        count["significant"] += row["a is"] != NO_DIFFERENCE
    return tree


def merged(tree: dict[str, Any], more: Mapping[str, Any]) -> dict[str, Any]:
    """`more` merged into `tree` key by key (nested mappings merged, not replaced)."""
    for key, value in more.items():
        if isinstance(value, Mapping) and isinstance(tree.get(key), dict):
            merged(tree[key], value)
        else:
            tree[key] = value
    return tree


def parent_comparison(
    rows: Iterable[Mapping[str, Any]],
) -> tuple[dict[str, float], dict[str, str]]:
    """One model's rows of the confidence-set table as its MLflow parent run's metrics
    (`mcs_<kind>_p_value`, `mcs_<kind>_in_set` as 1 or 0) and tags (`mcs.<kind>`: "in
    the set" or "excluded"), kinds as kind_key names them."""
    metrics: dict[str, float] = {}
    tags: dict[str, str] = {}
    for row in rows:
        kind, inside, p = kind_key(row["forecast"]), _true(row["in set"]), float(row["MCS p"])
        if math.isfinite(p):
            metrics[f"mcs_{kind}_p_value"] = p
        metrics[f"mcs_{kind}_in_set"] = float(inside)
        tags[f"mcs.{kind}"] = "in the set" if inside else "excluded"
    return metrics, tags
