import math

import numpy as np
import pytest
from arch.bootstrap import MCS
from scipy import stats
from statsmodels.stats.multitest import multipletests

from forecastlab.stats import (
    BETTER,
    NO_DIFFERENCE,
    WORSE,
    diebold_mariano,
    holm,
    interval,
    loss_difference_test,
    model_confidence_set,
    ratio_interval,
    verdict,
)

A = np.array([1.0, 2.0, 3.0, 1.0, 2.0])
B = np.ones(5)


def test_the_statistic_equals_one_worked_by_hand():
    # d = A^2 - B^2 = [0, 3, 8, 0, 3]: mean 2.8; centred [-2.8, 0.2, 5.2, -2.8, 0.2].
    # gamma_0 = (7.84 + 0.04 + 27.04 + 7.84 + 0.04) / 5 = 8.56, so Var(mean d) = 8.56 / 5;
    # HLN multiplies by sqrt((n + 1 - 2h + h(h - 1)/n) / n) = sqrt(4 / 5) for h = 1.
    test = diebold_mariano(A, B)
    statistic = 2.8 / math.sqrt(8.56 / 5) * math.sqrt(4 / 5)
    assert test["statistic"] == pytest.approx(statistic, rel=1e-12)
    assert test["statistic"] == pytest.approx(1.914, abs=1e-3)
    # Student's t with 4 degrees of freedom: t(0.95) = 2.132 and t(0.90) = 1.533, so the
    # two-sided p-value of 1.914 lies between 0.10 and 0.20.
    assert 0.10 < test["p_value"] < 0.20
    assert test["p_value"] == pytest.approx(2 * stats.t.sf(statistic, 4), rel=1e-12)
    assert test["n"] == 5 and test["mean_loss_difference"] == pytest.approx(2.8)


def test_a_two_step_horizon_adds_the_lag_one_autocovariance():
    # gamma_1 = (0.2 * -2.8 + 5.2 * 0.2 + -2.8 * 5.2 + 0.2 * -2.8) / 5 = -2.928;
    # Var(mean d) = (8.56 + 2 * -2.928) / 5; HLN factor sqrt((5 + 1 - 4 + 2 / 5) / 5).
    test = diebold_mariano(A, B, horizon=2)
    statistic = 2.8 / math.sqrt((8.56 - 2 * 2.928) / 5) * math.sqrt(2.4 / 5)
    assert test["statistic"] == pytest.approx(statistic, rel=1e-12)


def test_swapping_the_forecasts_flips_the_sign_and_keeps_the_p_value():
    forward, backward = diebold_mariano(A, B), diebold_mariano(B, A)
    assert backward["statistic"] == pytest.approx(-forward["statistic"])
    assert backward["p_value"] == pytest.approx(forward["p_value"])


def test_equal_errors_up_to_noise_are_no_significant_difference_and_double_ones_worse():
    rng = np.random.default_rng(7)
    errors = rng.normal(size=500)
    twin = errors + rng.normal(scale=1e-3, size=500)
    assert verdict(diebold_mariano(twin, errors), 0.05) == NO_DIFFERENCE
    worse = diebold_mariano(2 * errors, errors)
    assert worse["p_value"] < 1e-10 and verdict(worse, 0.05) == WORSE
    assert verdict(diebold_mariano(errors, 2 * errors), 0.05) == BETTER
    same = diebold_mariano(errors, errors)
    assert (same["statistic"], same["p_value"]) == (0.0, 1.0)
    assert verdict(same, 0.05) == NO_DIFFERENCE


def test_mismatched_or_too_short_errors_are_refused():
    with pytest.raises(
        ValueError, match=r"\(seeds, n\) arrays of one shape, got \(5,\) and \(4,\)"
    ):
        diebold_mariano(A, B[:4])
    with pytest.raises(ValueError, match="3 or more errors and 1 <= horizon < n, got n=2, h=1"):
        diebold_mariano(A[:2], B[:2])


def test_seed_replicates_are_tested_on_their_loss_differential_averaged_per_target():
    # Seed 1's d = [0, 3, 8, 0, 3] (as above), seed 2's = [0, -1, 0, 0, 3]: per target
    # [0, 1, 4, 0, 3], mean 1.6, centred [-1.6, -0.6, 2.4, -1.6, 1.4], gamma_0 = 13.2 / 5.
    second = np.array([1.0, 0.0, 1.0, 1.0, 2.0])
    test = diebold_mariano(np.stack([A, second]), np.stack([B, B]))
    statistic = 1.6 / math.sqrt(13.2 / 5 / 5) * math.sqrt(4 / 5)
    assert test["statistic"] == pytest.approx(statistic, rel=1e-12)
    assert test["p_value"] == pytest.approx(2 * stats.t.sf(statistic, 4), rel=1e-12)
    assert test["n"] == 5 and test["mean_loss_difference"] == pytest.approx(1.6)
    # One replicate as a (1, n) array is the single-seed test.
    assert diebold_mariano(A[None], B[None]) == diebold_mariano(A, B)


def test_the_interval_is_students_t_on_the_seeds():
    # mean 2, sd 1 (n - 1); t(0.975, 2 df) = 4.302653, half-width 4.302653 / sqrt(3).
    found = interval([1.0, 2.0, 3.0])
    half = 4.302653 / math.sqrt(3)
    assert (found["mean"], found["sd"], found["n"]) == (2.0, 1.0, 3)
    assert (found["low"], found["high"]) == pytest.approx((2 - half, 2 + half), rel=1e-6)
    alone = interval([5.0])
    assert alone["mean"] == 5.0 and all(math.isnan(alone[k]) for k in ("sd", "low", "high"))


def test_the_ratio_interval_is_geometric_and_symmetric_in_log():
    found = ratio_interval([0.5, 2.0])
    assert found["mean"] == pytest.approx(1.0)
    assert found["low"] == pytest.approx(1 / found["high"])
    assert found["low"] < 0.5 and found["high"] > 2.0
    agreeing = ratio_interval([2.0, 2.1, 1.9, 2.05, 1.95])
    assert 1.0 < agreeing["low"] < agreeing["mean"] < agreeing["high"] < 2.2


# Which model is best: the test of a loss differential, Holm's adjustment and the model
# confidence set.
def test_the_loss_difference_test_is_diebold_mariano_on_the_squared_errors():
    # The worked example above: d = A^2 - B^2 = [0, 3, 8, 0, 3].
    test = loss_difference_test(np.array([0.0, 3.0, 8.0, 0.0, 3.0]))
    assert test == diebold_mariano(A, B)
    assert test["statistic"] == pytest.approx(2.8 / math.sqrt(8.56 / 5) * math.sqrt(4 / 5))


def test_the_loss_difference_test_refuses_too_few_targets():
    with pytest.raises(ValueError) as error:
        loss_difference_test(np.array([1.0, 2.0]))
    assert str(error.value) == (
        "the test needs 3 or more errors and 1 <= horizon < n, got n=2, h=1"
    )


def test_holm_adjusts_by_hand():
    # Sorted 0.01, 0.03, 0.04, 0.2 of m = 4: 4 * 0.01 = 0.04, 3 * 0.03 = 0.09,
    # max(0.09, 2 * 0.04) = 0.09, max(0.09, 1 * 0.2) = 0.2; back in the given order.
    assert holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    # Capped at 1; a test that could not be made stays NaN and does not count.
    adjusted = holm([0.5, math.nan, 0.3])
    assert adjusted[0] == pytest.approx(0.6) and adjusted[2] == pytest.approx(0.6)
    assert math.isnan(adjusted[1])
    assert holm([0.6, 0.7]) == [1.0, 1.0]


def test_holm_equals_statsmodels():
    p = np.random.default_rng(3).uniform(0, 0.2, 28)
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1], rel=1e-12)


def test_a_model_clearly_best_is_the_set_alone():
    # Losses of three models, 300 targets, mean 1, 2 and 3.
    rng = np.random.default_rng(0)
    losses = rng.chisquare(1, (300, 3)) * np.array([1.0, 2.0, 3.0])
    p = model_confidence_set(losses, 0.05, reps=500, block_size=1, seed=1)
    assert p[0] == 1.0 and p[1] < 0.05 and p[2] < 0.05


def test_constant_losses_by_hand():
    # One model always loses 1, the other 2: the worse one's difference has no spread at
    # all, so it is eliminated with p-value 0 and the better one stays with 1.
    losses = np.column_stack([np.ones(10), np.full(10, 2.0)])
    assert model_confidence_set(losses, 0.05, reps=100, block_size=1, seed=1) == [1.0, 0.0]


def test_models_all_equal_are_all_in_the_set():
    rng = np.random.default_rng(1)
    same = rng.chisquare(1, 200)
    # Identical losses: one model to the procedure, p-value 1 for each.
    assert model_confidence_set(np.column_stack([same] * 4), 0.05, 200, 1, 1) == [1.0] * 4
    # Equal in expectation: none can be told from the others at 5%.
    losses = rng.chisquare(1, (400, 4))
    assert min(model_confidence_set(losses, 0.05, 500, 1, 1)) > 0.05


def test_a_tied_pair_is_the_set_and_identical_models_share_a_p_value():
    rng = np.random.default_rng(2)
    best = rng.chisquare(1, 300)
    worse = 3 * rng.chisquare(1, 300)
    # The tie: two draws of the same loss distribution, and a copy of the first.
    twin = rng.chisquare(1, 300)
    p = model_confidence_set(np.column_stack([best, twin, worse, best]), 0.05, 500, 1, 7)
    assert p[0] > 0.05 and p[1] > 0.05 and p[2] < 0.05
    assert p[3] == p[0]


def test_the_set_is_arch_s_set_on_the_same_losses_and_reproducible():
    rng = np.random.default_rng(4)
    losses = rng.chisquare(1, (250, 6)) * np.linspace(1.0, 1.3, 6)
    ours = model_confidence_set(losses, 0.1, reps=300, block_size=5, seed=11)
    theirs = MCS(losses, 0.1, reps=300, block_size=5, seed=11)
    theirs.compute()
    assert ours == [float(theirs.pvalues.loc[i, "Pvalue"]) for i in range(6)]
    included = [i for i, p in enumerate(ours) if p > 0.1]
    assert included == sorted(theirs.included)
    assert ours == model_confidence_set(losses, 0.1, reps=300, block_size=5, seed=11)
