import numpy as np
import pytest

from forecastlab.handcheck import (
    RNN1_HP,
    forward,
    max_errors,
    rnn1_forward,
    verify_predictions,
)
from tests.conftest import TINY_HORIZON, TINY_LENGTH, TINY_MODELS, tiny_model_hp, tiny_windows

RNG = np.random.default_rng(0)


def tutorial_weights(w1x=0.9, w1h=0.7, b1=0.1, w2=1.3, b2=-0.2):
    return {
        "RNN/kernel": np.array([[w1x]]),
        "RNN/recurrent_kernel": np.array([[w1h]]),
        "RNN/bias": np.array([b1]),
        "dense/kernel": np.array([[w2]]),
        "dense/bias": np.array([b2]),
    }


def rnn_model(ws, x, h=0.0):
    """The first tutorial's RNNmodel, verbatim in spirit: one scalar step."""
    h = np.tanh(
        x * ws["RNN/kernel"][0][0] + h * ws["RNN/recurrent_kernel"][0][0] + ws["RNN/bias"][0]
    )
    x = h * ws["dense/kernel"][0][0] + ws["dense/bias"][0]
    return x, h


def test_stateful_hand_loop_of_the_first_tutorial():
    ws = tutorial_weights()
    series = np.sin(np.arange(40) * 2 * np.pi / 10)
    xstars, h = [], 0.0
    for x in series:
        xstar, h = rnn_model(ws, x, h)
        xstars.append(xstar)
    outputs, _ = rnn1_forward(ws, series.reshape(1, -1, 1))
    np.testing.assert_allclose(outputs[0], xstars, atol=1e-12)


def test_stateless_my_rnn_predict_of_the_first_tutorial():
    ws = tutorial_weights()
    windows = RNG.normal(size=(20, 2, 1))

    def my_rnn_predict(window):
        h = 0.0
        for value in window.flatten():
            x, h = rnn_model(ws, value, h)
        return x, h

    expected = np.array([my_rnn_predict(w) for w in windows])
    outputs, hidden = rnn1_forward(ws, windows)
    np.testing.assert_allclose(outputs[:, -1], expected[:, 0], atol=1e-12)
    np.testing.assert_allclose(hidden[:, -1, 0], expected[:, 1], atol=1e-12)


def keras_outputs(ws, test_series, length):
    windows = np.lib.stride_tricks.sliding_window_view(test_series[:-1], length)[..., None]
    out_w, hid_w = rnn1_forward(ws, windows)
    out_s, hid_s = rnn1_forward(ws, test_series.reshape(1, -1, 1))
    arrays = {
        "test_series": test_series,
        "stateless": out_w[:, -1],
        "stateless_hidden": hid_w[:, -1],
        "stateful": out_s[0],
        "stateful_hidden": hid_s[0],
    }
    return windows, arrays


def test_verify_predictions_passes_on_equal_and_fails_on_a_perturbed_weight():
    ws = tutorial_weights()
    series = np.sin(np.arange(50) * 0.6)
    windows, arrays = keras_outputs(ws, series, 3)
    report = verify_predictions("rnn1", RNN1_HP, ws, windows, arrays, 1e-5)
    assert report["passed"]
    assert report["modes"]["stateless"]["n_compared"] == 2 * len(windows)
    assert report["modes"]["stateful"]["n_compared"] == 2 * len(series)

    perturbed = dict(ws, **{"dense/bias": ws["dense/bias"] + 1e-3})
    report = verify_predictions("rnn1", RNN1_HP, perturbed, windows, arrays, 1e-5)
    assert not report["passed"]
    assert report["modes"]["stateful"]["max_abs_error"] == pytest.approx(1e-3)

    # The stateful pass has its own tolerance; the stateless windows still fail.
    report = verify_predictions("rnn1", RNN1_HP, perturbed, windows, arrays, 1e-5, 2e-3)
    assert report["modes"]["stateful"]["passed"] and not report["modes"]["stateless"]["passed"]


def test_max_errors_locates_the_worst_value():
    result = max_errors(np.array([[0.0, 1.0], [2.0, 3.5]]), np.array([[0.0, 1.0], [2.0, 3.0]]))
    assert result["max_abs_error"] == 0.5 and result["worst_index"] == [1, 1]
    assert result["n_compared"] == 4
    with pytest.raises(ValueError, match="shape mismatch"):
        max_errors(np.zeros(3), np.zeros(4))


def test_rtol_allows_a_share_of_large_values_only():
    # 5e-5 off at 100 is within 1e-6 relative; the same 5e-5 at 1 is not.
    hand, keras_values = np.array([100.00005, 1.00005]), np.array([100.0, 1.0])
    result = max_errors(hand, keras_values, rtol=1e-6)
    assert result["worst_index"] == [1]
    assert result["max_excess"] == pytest.approx(5e-5 - 1e-6, rel=1e-3)
    assert max_errors(hand[:1], keras_values[:1], rtol=1e-6)["max_excess"] < 0


def test_what_float32_rounding_moves_is_allowed_and_nothing_more():
    hand = np.array([1.0, 2.0, 3.0])
    # Keras's float32 value moved by 2e-4 where the float32 twin of the hand pass moved by
    # 1e-4 (an ill-conditioned spot): allowed; the same 2e-4 where the twin agrees is not.
    twin = np.array([1.0 + 1e-4, 2.0, 3.0])
    allowed = max_errors(hand, np.array([1.0 + 2e-4, 2.0, 3.0]), hand_float32=twin)
    assert allowed["max_excess"] <= 0 and allowed["max_float32_spread"] == pytest.approx(1e-4)
    wrong = max_errors(hand, np.array([1.0, 2.0 + 2e-4, 3.0]), hand_float32=twin)
    assert wrong["worst_index"] == [1] and wrong["max_excess"] == pytest.approx(2e-4)


@pytest.mark.parametrize("arch", sorted(TINY_MODELS))
def test_hand_forward_of_every_architecture_equals_keras(arch):
    import keras

    from forecastlab.architectures import has_stateful_modes
    from forecastlab.models import build_model, copy_weights, export_weights

    keras.utils.set_random_seed(3)
    hp = tiny_model_hp(arch)
    model = build_model(arch, hp, TINY_LENGTH, horizon=TINY_HORIZON)
    for variable in model.weights:  # a variance must be positive (BatchNormalization's)
        drawn = RNG.normal(scale=0.5, size=variable.shape)
        variable.assign(np.abs(drawn) if "variance" in variable.name else drawn)
    weights = export_weights(model)
    x = tiny_windows()["train_inputs"]
    hand, _ = forward(arch, hp, weights, x, TINY_HORIZON)
    np.testing.assert_allclose(hand, model.predict(x, verbose=0), atol=1e-5)
    # The float32 twin that measures what rounding alone moves (FLOAT32_MARGIN).
    twin, _ = forward(arch, hp, weights, x, TINY_HORIZON, dtype=np.float32)
    assert hand.dtype == np.float64 and twin.dtype == np.float32
    np.testing.assert_allclose(twin, hand, atol=1e-5)
    if has_stateful_modes(arch, hp):
        twin = copy_weights(model, build_model(arch, hp, None, return_sequences=True))
        series = x[:1, :, :].reshape(1, -1, 1)
        hand_steps, _ = forward(arch, hp, weights, series, sequences=True)
        np.testing.assert_allclose(hand_steps, twin.predict(series, verbose=0), atol=1e-5)
