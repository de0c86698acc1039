import subprocess
import sys

import numpy as np
import pytest

from forecastlab.handcheck import (
    RNN1_HP,
    conv1d,
    dense,
    dropout,
    flatten,
    forward,
    gru,
    layer_norm_simple_rnn,
    lstm,
    max_errors,
    rnn1_forward,
    simple_rnn,
    stacked_simple_rnn,
    verify_predictions,
    wavenet,
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


def test_handcheck_imports_no_tensorflow():
    code = (
        "import sys, forecastlab.handcheck; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def keras_model(layer, inputs_shape):
    import keras

    inputs = keras.Input(shape=inputs_shape)
    return keras.Model(inputs, layer(inputs))


def randomize(layer, scale=0.5):
    """Random weights of the layer's own shapes (Keras would start biases at zero)."""
    layer.set_weights([RNG.normal(scale=scale, size=w.shape) for w in layer.get_weights()])
    return [np.asarray(w) for w in layer.get_weights()]


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize(
    ("units", "features", "steps", "activation"),
    [(1, 1, 3, "tanh"), (4, 2, 9, "tanh"), (3, 3, 5, "relu")],
)
def test_lstm_equals_keras(units, features, steps, activation, return_sequences):
    import keras

    layer = keras.layers.LSTM(units, activation=activation, return_sequences=return_sequences)
    model = keras_model(layer, (steps, features))
    kernel, recurrent, bias = randomize(layer)
    x = RNG.normal(size=(6, steps, features)).astype("float32")
    hidden, cells = lstm(x, kernel, recurrent, bias, activation)
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(hidden if return_sequences else hidden[:, -1], expected, atol=1e-5)
    assert cells.shape == hidden.shape


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize(
    ("units", "features", "steps", "activation"),
    [(1, 1, 3, "tanh"), (4, 2, 9, "tanh"), (5, 3, 4, "relu")],
)
def test_gru_equals_keras_with_and_without_reset_after(
    units, features, steps, activation, reset_after, return_sequences
):
    import keras

    layer = keras.layers.GRU(
        units, activation=activation, reset_after=reset_after, return_sequences=return_sequences
    )
    model = keras_model(layer, (steps, features))
    kernel, recurrent, bias = randomize(layer)
    assert bias.shape == ((2, 3 * units) if reset_after else (3 * units,))
    x = RNG.normal(size=(6, steps, features)).astype("float32")
    hidden = gru(x, kernel, recurrent, bias, activation, reset_after=reset_after)
    np.testing.assert_allclose(
        hidden if return_sequences else hidden[:, -1], model.predict(x, verbose=0), atol=1e-5
    )


def test_two_stacked_simple_rnns_equal_keras():
    import keras

    inputs = keras.Input(shape=(7, 1))
    first = keras.layers.SimpleRNN(4, return_sequences=True)
    second = keras.layers.SimpleRNN(3)
    model = keras.Model(inputs, second(first(inputs)))
    weights = [
        dict(zip(["kernel", "recurrent_kernel", "bias"], randomize(layer), strict=True))
        for layer in (first, second)
    ]
    x = RNG.normal(size=(5, 7, 1)).astype("float32")
    states = stacked_simple_rnn(x, weights)
    assert [s.shape for s in states] == [(5, 7, 4), (5, 7, 3)]
    np.testing.assert_allclose(states[-1][:, -1], model.predict(x, verbose=0), atol=1e-5)


def test_layer_norm_cell_equals_keras():
    import keras

    from forecastlab.models import LayerNormSimpleRNNCell

    layer = keras.layers.RNN(LayerNormSimpleRNNCell(4), return_sequences=True)
    model = keras_model(layer, (6, 2))
    kernel, recurrent, bias, gamma, beta = randomize(layer)
    x = RNG.normal(size=(5, 6, 2)).astype("float32")
    np.testing.assert_allclose(
        layer_norm_simple_rnn(x, kernel, recurrent, bias, gamma, beta),
        model.predict(x, verbose=0),
        atol=1e-5,
    )


@pytest.mark.parametrize(
    ("padding", "strides", "dilation", "size"),
    [
        ("valid", 1, 1, 3),
        ("valid", 2, 1, 4),
        ("causal", 1, 2, 2),
        ("causal", 1, 4, 3),
        ("valid", 1, 3, 2),  # Keras refuses strides > 1 with dilation > 1
    ],
)
def test_conv1d_equals_keras(padding, strides, dilation, size):
    import keras

    layer = keras.layers.Conv1D(
        5, size, strides=strides, padding=padding, dilation_rate=dilation, activation="relu"
    )
    model = keras_model(layer, (20, 2))
    kernel, bias = randomize(layer)
    x = RNG.normal(size=(3, 20, 2)).astype("float32")
    hand = conv1d(x, kernel, bias, strides, padding, dilation, "relu")
    np.testing.assert_allclose(hand, model.predict(x, verbose=0), atol=1e-5)


def test_wavenet_stack_equals_keras():
    import keras

    inputs = keras.Input(shape=(30, 1))
    x, convolutions = inputs, []
    for rate in (1, 2, 4, 8) * 2:
        layer = keras.layers.Conv1D(6, 2, padding="causal", activation="relu", dilation_rate=rate)
        x = layer(x)
        convolutions.append((layer, rate))
    head = keras.layers.Conv1D(10, 1)
    model = keras.Model(inputs, head(x))
    weights = [
        {"kernel": k, "bias": b, "dilation_rate": rate}
        for layer, rate in convolutions
        for k, b in [randomize(layer, 0.4)]
    ]
    head_kernel, head_bias = randomize(head)
    series = RNG.normal(size=(4, 30, 1)).astype("float32")
    hand = wavenet(series, weights, {"kernel": head_kernel, "bias": head_bias})
    np.testing.assert_allclose(hand, model.predict(series, verbose=0), atol=1e-5)


def test_flatten_dense_and_dropout_equal_keras():
    import keras

    inputs = keras.Input(shape=(8, 1))
    head = keras.layers.Dense(3, activation="sigmoid")
    model = keras.Model(inputs, head(keras.layers.Dropout(0.5)(keras.layers.Flatten()(inputs))))
    kernel, bias = randomize(head)
    x = RNG.normal(size=(4, 8, 1)).astype("float32")
    hand = dense(dropout(flatten(x)), kernel, bias, "sigmoid")
    np.testing.assert_allclose(hand, model.predict(x, verbose=0), atol=1e-5)


def test_time_distributed_dense_of_the_fifth_tutorial():
    import keras

    layer = keras.layers.TimeDistributed(keras.layers.Dense(3, activation="sigmoid"))
    model = keras_model(layer, (None, 2))
    kernel, bias = randomize(layer)
    x = RNG.normal(size=(1, 6, 2)).astype("float32")
    hand = dense(x, kernel, bias, "sigmoid")  # the same Dense at every time step
    assert hand.shape == (1, 6, 3)
    np.testing.assert_allclose(hand, model.predict(x, verbose=0), atol=1e-5)


def demo_model(stateful):
    """The second tutorial's create_RNN_functional: SimpleRNN(2) + Dense(1), both linear."""
    import keras

    inputs = keras.Input(batch_shape=(1, 3, 1)) if stateful else keras.Input(shape=(3, 1))
    rnn = keras.layers.SimpleRNN(2, activation="linear", return_sequences=True, stateful=stateful)
    out = keras.layers.Dense(1, activation="linear")
    model = keras.Model(inputs, out(rnn(inputs)))
    return model, randomize(rnn) + randomize(out)


def test_linear_two_unit_rnn_of_the_second_tutorial():
    model, (wx, wh, bh, wy, by) = demo_model(stateful=False)
    x = np.array([1.0, 2.0, 3.0])
    h = np.zeros(2)
    outputs = []
    for value in x:  # the tutorial's loop
        h = np.dot(value, wx) + np.dot(h, wh) + bh
        outputs.append(np.dot(h, wy) + by)
    expected = model.predict(x.reshape(1, 3, 1), verbose=0)
    np.testing.assert_allclose(np.array(outputs).reshape(1, 3, 1), expected, atol=1e-5)
    hand = dense(simple_rnn(x.reshape(1, 3, 1), wx, wh, bh, "linear"), wy, by)
    np.testing.assert_allclose(hand, expected, atol=1e-5)


def test_three_stateful_calls_of_the_second_tutorial_carry_h():
    model, (wx, wh, bh, wy, by) = demo_model(stateful=True)
    x = np.array([1.0, 2.0, 3.0])
    calls = [model.predict(x.reshape(1, 3, 1), verbose=0)[0, :, 0] for _ in range(3)]
    # By hand: the three calls are one sequence of nine steps.
    hand = dense(simple_rnn(np.tile(x, 3).reshape(1, 9, 1), wx, wh, bh, "linear"), wy, by)[0, :, 0]
    np.testing.assert_allclose(np.concatenate(calls), hand, atol=1e-4)
    assert np.abs(calls[0] - calls[1]).max() > 1e-3  # the state was carried, not reset


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
