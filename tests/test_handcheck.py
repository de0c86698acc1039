import subprocess
import sys

import numpy as np
import pytest

from forecastlab.handcheck import dense, max_errors, rnn1_forward, simple_rnn, verify_predictions

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


@pytest.mark.parametrize("activation", ["tanh", "relu", "linear", "sigmoid"])
@pytest.mark.parametrize(("units", "features", "steps"), [(1, 1, 2), (3, 1, 12), (4, 2, 7)])
def test_simple_rnn_and_dense_equal_keras_on_random_weights(activation, units, features, steps):
    import keras

    inputs = keras.Input(shape=(steps, features))
    rnn = keras.layers.SimpleRNN(units, activation=activation, return_sequences=True, name="RNN")
    out = keras.layers.Dense(2, activation=activation, name="dense")
    model = keras.Model(inputs, out(rnn(inputs)))
    kernel, recurrent, bias = (
        RNG.normal(scale=0.5, size=s) for s in [(features, units), (units, units), (units,)]
    )
    rnn.set_weights([kernel, recurrent, bias])
    dense_kernel, dense_bias = RNG.normal(size=(units, 2)), RNG.normal(size=(2,))
    out.set_weights([dense_kernel, dense_bias])
    x = RNG.normal(size=(5, steps, features)).astype("float32")
    hand = dense(
        simple_rnn(x, kernel, recurrent, bias, activation), dense_kernel, dense_bias, activation
    )
    np.testing.assert_allclose(hand, model.predict(x, verbose=0), atol=1e-5)


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
    report = verify_predictions("rnn1", {"activation": "tanh"}, ws, windows, arrays, 1e-5)
    assert report["passed"]
    assert report["modes"]["stateless"]["n_compared"] == 2 * len(windows)
    assert report["modes"]["stateful"]["n_compared"] == 2 * len(series)

    perturbed = dict(ws, **{"dense/bias": ws["dense/bias"] + 1e-3})
    report = verify_predictions("rnn1", {"activation": "tanh"}, perturbed, windows, arrays, 1e-5)
    assert not report["passed"]
    assert report["modes"]["stateful"]["max_abs_error"] == pytest.approx(1e-3)


def test_max_errors_locates_the_worst_value():
    result = max_errors(np.array([[0.0, 1.0], [2.0, 3.5]]), np.array([[0.0, 1.0], [2.0, 3.0]]))
    assert result["max_abs_error"] == 0.5 and result["worst_index"] == [1, 1]
    assert result["n_compared"] == 4
    with pytest.raises(ValueError, match="shape mismatch"):
        max_errors(np.zeros(3), np.zeros(4))


def test_handcheck_imports_no_tensorflow():
    code = (
        "import sys, forecastlab.handcheck; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
