"""Significance tests for comparing forecasts.

The Diebold-Mariano test asks whether two forecasts of the same targets differ in
expected loss; Harvey, Leybourne and Newbold (1997) correct its statistic for small
samples and compare it with Student's t with n - 1 degrees of freedom. Squared-error
loss throughout, since the project compares models by MSE.

Seed replicates of a model (the same architecture trained from other initial weights)
forecast the same test targets, so their errors are not independent samples: a test per
seed and a combination of their p-values (Fisher's, Stouffer's) would count the test
period S times. The test of replicates therefore averages the loss differential over the
seeds at each target first and tests that one series: its null hypothesis is that both
ways of forecasting have the same expected squared error, averaged over the training
seeds. How much the seeds disagree is shown beside it, by the interval of each metric
across seeds (`interval`, `ratio_interval`).

Which of several models is best: a Diebold-Mariano test per pair, its p-values adjusted
for the number of pairs by Holm's method (`holm`), and the model confidence set of
Hansen, Lunde and Nason (`model_confidence_set`): the models that cannot be told apart
from the best at a level, each with its MCS p-value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

# The classes of a comparison of forecast a against forecast b.
WORSE, BETTER, NO_DIFFERENCE = "worse", "better", "no significant difference"


def diebold_mariano(
    errors_a: np.ndarray, errors_b: np.ndarray, horizon: int = 1
) -> dict[str, float]:
    """The HLN-corrected Diebold-Mariano test of forecast a against forecast b.

    errors_a and errors_b (n,): forecast minus target, on the same n targets in time
    order; or (S, n): S seed replicates of each, whose loss differentials are averaged
    over the seeds at each target (see the module's docstring). The loss differential is
    d_t = a_t^2 - b_t^2; its long-run variance sums the autocovariances up to lag
    horizon - 1 (an h-step forecast's errors are MA(h - 1)). Returns {"statistic",
    "p_value" (two-sided), "n", "mean_loss_difference"}: a positive statistic means a's
    squared errors are larger. Identical losses give statistic 0 and p-value 1.
    """
    a, b = np.asarray(errors_a, np.float64), np.asarray(errors_b, np.float64)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(
            f"errors must be two (n,) or (seeds, n) arrays of one shape, got {a.shape} "
            f"and {b.shape}"
        )
    d = a**2 - b**2
    return loss_difference_test(d.mean(axis=0) if d.ndim == 2 else d, horizon)


def loss_difference_test(d: np.ndarray, horizon: int = 1) -> dict[str, float]:
    """The HLN-corrected Diebold-Mariano test of a loss differential d (n,) in time order
    (forecast a's loss minus forecast b's, target by target): the statistic, its
    two-sided p-value against Student's t with n - 1 degrees of freedom, n and the mean
    differential (see diebold_mariano)."""
    d = np.asarray(d, np.float64)
    n = d.shape[-1]
    if d.ndim != 1 or n < 3 or not 1 <= horizon < n:
        raise ValueError(
            f"the test needs 3 or more errors and 1 <= horizon < n, got n={n}, h={horizon}"
        )
    mean = float(d.mean())
    centred = d - mean
    autocovariances = [float(centred[k:] @ centred[: n - k]) / n for k in range(horizon)]
    variance = (autocovariances[0] + 2 * sum(autocovariances[1:])) / n
    if variance <= 0.0:  # every differential equal: no evidence either way unless nonzero
        statistic = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
    else:
        correction = math.sqrt((n + 1 - 2 * horizon + horizon * (horizon - 1) / n) / n)
        statistic = correction * mean / math.sqrt(variance)
    p_value = float(2 * stats.t.sf(abs(statistic), df=n - 1))
    return {"statistic": statistic, "p_value": p_value, "n": n, "mean_loss_difference": mean}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (m,) for multiple comparisons:
    the i-th smallest becomes max over j <= i of (m - j + 1) p_(j), capped at 1. Rejecting
    where the adjusted p-value is below the level keeps the chance of any false rejection
    in the family below the level, whatever the dependence between the tests. NaN (a
    test that could not be made) stays NaN and does not count in m."""
    p = np.asarray(p_values, np.float64)
    adjusted = np.full(p.shape, np.nan)
    known = np.flatnonzero(~np.isnan(p))
    order = known[np.argsort(p[known], kind="stable")]
    m, running = len(order), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p[index])))
        adjusted[index] = running
    return adjusted.tolist()


def model_confidence_set(
    losses: np.ndarray, level: float, reps: int, block_size: int, seed: int
) -> list[float]:
    """The MCS p-value of each of k models (Hansen, Lunde and Nason 2011) from their
    losses (n, k) on the same n targets in time order, by `arch.bootstrap.MCS` with its
    range statistic (method "R") and a stationary bootstrap of `reps` resamples of mean
    block length `block_size`, seeded by `seed` (the same losses give the same bits). A
    model is in the set at `level` when its p-value is above `level` (arch's rule).

    Models whose losses are identical, target by target, are one model to the
    procedure (their pairwise variance is zero, which the statistic cannot divide by)
    and share its p-value. One distinct model: p-value 1 for all.
    """
    # Imported here: only the summarize step runs the procedure, and the report
    # environments that import this module for the tests above need not install arch.
    from arch.bootstrap import MCS

    x = np.asarray(losses, np.float64)
    if x.ndim != 2 or x.shape[1] < 1:
        raise ValueError(f"losses must be an (n, k) array with k >= 1, got {x.shape}")
    distinct: list[int] = []
    same_as = []
    for column in range(x.shape[1]):
        match = next((d for d in distinct if np.array_equal(x[:, d], x[:, column])), None)
        if match is None:
            distinct.append(column)
            match = column
        same_as.append(distinct.index(match))
    if len(distinct) == 1:
        return [1.0] * x.shape[1]
    procedure = MCS(x[:, distinct], level, reps=reps, block_size=block_size, seed=seed)
    # A loss difference without spread (a model worse at every target by the same
    # amount) divides zero by zero in the bootstrap's statistics: arch then eliminates
    # that model with p-value 0, as it should, and numpy's warning says nothing more.
    with np.errstate(divide="ignore", invalid="ignore"):
        procedure.compute()
    found = procedure.pvalues["Pvalue"]
    if sorted(map(_index, found.index)) != list(range(len(distinct))):
        # arch 8.0.0 eliminates both models of a pair when two pairs tie exactly for
        # the largest statistic (losses that are exact multiples of one another).
        raise ValueError(
            "the model confidence set met an exact tie between two pairs' statistics, "
            "which arch's MCS cannot resolve: losses that are exact multiples of each other"
        )
    p_values = [float(found.loc[index]) for index in range(len(distinct))]
    return [p_values[index] for index in same_as]


def _index(value: object) -> int:
    """An entry of arch's p-value index as an int (-1 when it is not one model's)."""
    return int(value) if np.ndim(value) == 0 else -1


def verdict(test: dict[str, float], level: float) -> str:
    """How forecast a compares with b at significance `level`: worse, better, or no
    significant difference (when the test's p-value is not below `level`)."""
    if test["p_value"] >= level:
        return NO_DIFFERENCE
    return WORSE if test["statistic"] > 0 else BETTER


def interval(values: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """Mean, standard deviation (n - 1) and the Student t interval of the mean of
    `values` (n,), one per seed: seeds are independent replicates, and few (3 to 10), so
    the t quantile with n - 1 degrees of freedom rather than a normal one or a bootstrap,
    which needs more samples. One value: sd and interval NaN. Returns {"mean", "sd",
    "low", "high", "n"}.
    """
    x = np.asarray(values, np.float64)
    n = len(x)
    mean = float(x.mean())
    if n < 2:
        return {"mean": mean, "sd": math.nan, "low": math.nan, "high": math.nan, "n": n}
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, df=n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "sd": sd, "low": mean - half, "high": mean + half, "n": n}


def ratio_interval(ratios: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """The geometric mean of positive `ratios` (n,), one per seed, and its interval: the
    t interval of the mean log ratio, exponentiated. Ratios multiply (0.5 is as far from
    1 as 2), so their logs are averaged; the interval excludes 1 only when the seeds
    agree on the direction. Returns {"mean", "low", "high", "n"}."""
    logs = interval(np.log(np.asarray(ratios, np.float64)), confidence)
    return {key: math.exp(logs[key]) for key in ("mean", "low", "high")} | {"n": logs["n"]}
