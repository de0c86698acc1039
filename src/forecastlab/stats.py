"""Significance tests for comparing forecasts.

The Diebold-Mariano test asks whether two forecasts of the same targets differ in
expected loss; Harvey, Leybourne and Newbold (1997) correct its statistic for small
samples and compare it with Student's t with n - 1 degrees of freedom. Squared-error
loss throughout, since the project compares models by MSE.
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
    order. The loss differential is d_t = a_t^2 - b_t^2; its long-run variance sums the
    autocovariances up to lag horizon - 1 (an h-step forecast's errors are MA(h - 1)).
    Returns {"statistic", "p_value" (two-sided), "n", "mean_loss_difference"}: a positive
    statistic means a's squared errors are larger. Identical losses give statistic 0 and
    p-value 1.
    """
    a, b = np.asarray(errors_a, np.float64), np.asarray(errors_b, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"errors must be two (n,) arrays of one shape, got {a.shape} and {b.shape}"
        )
    n = len(a)
    if n < 3 or not 1 <= horizon < n:
        raise ValueError(
            f"the test needs 3 or more errors and 1 <= horizon < n, got n={n}, h={horizon}"
        )
    d = a**2 - b**2
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
