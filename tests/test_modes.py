import numpy as np
import pytest

from forecastlab.evaluation import point_metrics, stateful_predict, stateless_predict
from forecastlab.handcheck import verify_predictions
from forecastlab.models import build_model, export_weights
from forecastlab.modes import (
    DRAWN,
    MODES,
    VERIFIED,
    VERSUS_STATELESS,
    Case,
    compared_of,
    evaluate,
    flat_metrics,
    forecasts_after_windows,
)
from forecastlab.windows import cut_windows
from tests.conftest import TINY_HORIZON, TINY_LENGTH, tiny_model_hp, tiny_series

KINDS = ["next", "shifted", "horizon", "shifted_horizon"]


def case_of(arch: str, panel: bool = False) -> Case:
    """A model of `arch` with random weights, on the test part of one tiny series (or of
    a panel of series, cut as the textbook study is)."""
    import keras

    keras.utils.set_random_seed(3)
    hp = tiny_model_hp(arch)
    model = build_model(arch, hp, TINY_LENGTH, horizon=TINY_HORIZON)
    series = tiny_series(120)
    test = np.stack([series[i : i + 12] for i in range(6)]) if panel else series[80:]
    cut = "series" if panel else "sliding"
    inputs, targets, starts = cut_windows(test, TINY_LENGTH, cut, KINDS, TINY_HORIZON)
    windows = {"test_inputs": inputs, "test_starts": starts}
    for part in ("train", "test"):  # the train part's stand in: their shapes give the horizon
        windows |= {f"{part}_targets_{kind}": values for kind, values in targets.items()}
    prepared = {
        "train": np.stack([series[:40], series[40:80]]) if panel else series[:70],
        "validation": series[70:80],
        "test": test,
        "scaler_offset": np.float64(0.0),
        "scaler_scale": np.float64(2.0),
    }
    return Case(model, arch, hp, TINY_LENGTH, windows, prepared, seed=1)


@pytest.mark.parametrize(
    ("arch", "panel", "modes"),
    [
        ("naive", False, ["stateless", "iterative"]),
        (
            "rnn1",
            False,
            [
                "stateless",
                "stateful",
                "stateful_warm",
                "stateful_reset_L",
                "stateful_all",
                "iterative",
            ],
        ),
        (
            "gru",
            False,
            ["stateless", "stateful", "stateful_warm", "stateful_reset_L"]
            + ["all_steps", "stateful_all"],
        ),
        ("seq2vec", False, ["direct"]),
        ("seq2seq", True, ["seq2seq", "all_steps"]),
        ("rnn1", True, ["stateless", "iterative"]),  # a panel has no one series to carry
        ("mc_rnn", True, ["stateless", "iterative", "mc_dropout"]),
    ],
)
def test_the_modes_of_a_model_follow_its_plan_and_data(arch, panel, modes):
    result = evaluate(case_of(arch, panel))
    assert list(result.metrics["modes"]) == modes
    assert set(result.forecasts) <= set(modes)


def test_stateful_forecasts_are_the_carried_state_at_each_windows_last_step():
    case = case_of("rnn3")
    result = evaluate(case)
    carried, _ = stateful_predict(case.model, "rnn3", case.hp, case.test_series)
    ends = case.windows["test_starts"] + TINY_LENGTH - 1
    np.testing.assert_array_equal(result.forecasts["stateful"], carried[ends])
    np.testing.assert_array_equal(result.arrays["stateful"], carried)
    truth = case.windows["test_targets_next"]
    np.testing.assert_array_equal(result.targets, truth)
    # Scaled by 2: the original units' MSE is 4 times the scaled one.
    expected = point_metrics(carried[ends], truth)
    stateful = result.metrics["modes"]["stateful"]
    assert stateful["mse"] == pytest.approx(expected["mse"])
    assert stateful["mse_orig"] == pytest.approx(4 * expected["mse"])
    stateless, _ = stateless_predict(case.model, case.windows["test_inputs"])
    ratio = expected["mse"] / point_metrics(stateless, truth)["mse"]
    assert result.metrics["stateful_to_stateless_mse"] == pytest.approx(ratio)


def test_per_step_models_are_scored_on_the_last_step_and_on_every_step():
    case = case_of("seq2seq", panel=True)
    result = evaluate(case)
    predictions, targets = result.arrays["stateless"], result.arrays["test_targets"]
    assert predictions.shape == targets.shape == (6, TINY_LENGTH, TINY_HORIZON)
    np.testing.assert_array_equal(result.forecasts["seq2seq"], predictions[:, -1])
    modes = result.metrics["modes"]
    assert modes["all_steps"]["n"] == predictions.size
    per_horizon = np.mean((predictions[:, -1] - targets[:, -1]) ** 2, axis=0)
    np.testing.assert_allclose(modes["seq2seq"]["per_horizon_mse"], per_horizon, rtol=1e-6)


def test_flat_metrics_name_each_mode_metric_and_horizon_step():
    evaluation = {
        "modes": {
            "direct": {"mse": 1.0, "n": 4, "per_horizon_mse": [0.5, 1.5]},
            "mc_dropout": {"mse": 2.0, "coverage_95": 0.9, "samples": 100},
        },
        "stateful_to_stateless_mse": 0.7,
    }
    assert flat_metrics(evaluation) == {
        "direct_mse": 1.0,
        "mc_dropout_mse": 2.0,
        "mc_dropout_coverage_95": 0.9,
        "direct_mse_step_1": 0.5,
        "direct_mse_step_2": 1.5,
        "stateful_to_stateless_mse": 0.7,
    }


def test_the_modes_are_independent_of_their_order():
    case = case_of("rnn1")
    ordered = evaluate(case)
    # Each runner reads only the case: run last to first, they save the same arrays.
    backwards = {}
    for mode in reversed(MODES):
        if mode.applies(case):
            backwards |= mode.run(case).arrays
    assert set(backwards) == set(ordered.arrays)
    for name, values in ordered.arrays.items():
        np.testing.assert_array_equal(backwards[name], values)


def test_each_entry_says_what_is_verified_compared_tested_and_drawn():
    case = case_of("rnn1")
    result = evaluate(case)
    arrays, modes = result.arrays, result.metrics["modes"]
    # Compared: the window and iterated forecasts, each scored in eval.json.
    compared = [c for c in compared_of("next") if c.array in arrays]
    assert [c.name for c in compared] == ["stateless", "iterative"]
    assert all(c.name in modes for c in compared)
    np.testing.assert_array_equal(compared[0].forecasts(arrays), result.forecasts["stateless"])
    np.testing.assert_array_equal(compared[0].targets(arrays, TINY_LENGTH, 3), result.targets)
    # After each window: the forecasts eval.json scores on the window targets.
    after = forecasts_after_windows(arrays)
    for name in ("stateless", *VERSUS_STATELESS):
        np.testing.assert_array_equal(after[name], result.forecasts[name])
    assert set(DRAWN) <= set(after) and set(VERSUS_STATELESS) <= set(modes)
    # Verified: the hand forward passes handcheck runs, over the arrays each names.
    weights = export_weights(case.model)
    checked = verify_predictions(
        "rnn1", case.hp, weights, case.windows["test_inputs"], arrays, 1e-4
    )
    assert set(checked["modes"]) == set(VERIFIED)
    for name, check in checked["modes"].items():
        assert check["quantity"] in VERIFIED[name] and check["passed"]
