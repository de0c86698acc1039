"""forecastlab.numpy_layers: each layer type by hand against the Keras layer, real Keras."""

import numpy as np
import pytest

from forecastlab.numpy_layers import (
    conv1d,
    dense,
    dropout,
    flatten,
    gru,
    layer_norm_simple_rnn,
    lstm,
    simple_rnn,
    stacked_simple_rnn,
    wavenet,
)

RNG = np.random.default_rng(0)


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

    from forecastlab.cells import LayerNormSimpleRNNCell

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
