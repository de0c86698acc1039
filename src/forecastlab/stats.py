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
"""

from __future__ import annotations

import math

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
    n = a.shape[-1]
    if n < 3 or not 1 <= horizon < n:
        raise ValueError(
            f"the test needs 3 or more errors and 1 <= horizon < n, got n={n}, h={horizon}"
        )
    d = a**2 - b**2
    if d.ndim == 2:
        d = d.mean(axis=0)
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
