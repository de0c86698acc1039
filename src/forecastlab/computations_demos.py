"""The second and fourth tutorials' small examples, rebuilt in Keras with seeded weights
and computed by hand (`forecastlab.numpy_layers`) beside Keras's values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecastlab import numpy_layers
from forecastlab.computations import DIFFERENCE, HAND, KERAS, quiet_keras, shape_text

# The tutorial's X_batch: 3 instances, 2 time steps, 4 inputs (the numbers 0 to 9).
X_BATCH = np.array(
    [
        [[0, 1, 2, 5], [9, 8, 7, 4]],
        [[3, 4, 5, 2], [0, 0, 0, 0]],
        [[6, 7, 8, 5], [6, 5, 4, 2]],
    ],
    dtype=np.float32,
)


def _rnn_model(
    units: int,
    inputs: tuple[int, ...],
    activation: str,
    dense: bool,
    stateful: bool = False,
    batch_size: int | None = None,
    return_state: bool = False,
) -> Any:
    keras = quiet_keras()
    x = keras.Input(shape=inputs, batch_size=batch_size, name="x")
    rnn = keras.layers.SimpleRNN(
        units,
        activation=activation,
        return_sequences=True,
        return_state=return_state,
        stateful=stateful,
        name="RNN",
    )(x)
    outputs = rnn
    if dense:
        outputs = keras.layers.Dense(1, activation="linear", name="dense")(rnn)
    return keras.Model(x, outputs)


def _compare(rows: list[dict[str, Any]], hand: np.ndarray, keras_values: np.ndarray, **key):
    difference = np.abs(hand - keras_values)
    for index in np.ndindex(hand.shape):
        rows.append(
            {
                **{k: v for k, v in key.items()},
                "index": str(list(index)),
                HAND: float(hand[index]),
                KERAS: float(keras_values[index]),
                DIFFERENCE: float(difference[index]),
            }
        )
    return float(difference.max())


@dataclass
class Demo:
    """A demo's weights (name -> array), its comparison table and largest difference."""

    weights: pd.DataFrame
    comparison: pd.DataFrame
    max_difference: float


# The second tutorial's names of the five weights of its linear demo.
TUTORIAL_NAMES = {
    "RNN/kernel": "wx",
    "RNN/recurrent_kernel": "wh",
    "RNN/bias": "bh",
    "dense/kernel": "wy",
    "dense/bias": "by",
}


def _weights_frame(model: Any, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Every weight of a demo model: Keras's key, the tutorial's name, shape, values."""
    from forecastlab.models import export_weights

    return pd.DataFrame(
        [
            {
                "weight": key,
                **({"tutorial's name": names.get(key, "")} if names else {}),
                "shape": shape_text(value.shape),
                "values": np.array2string(value.ravel(), precision=6, separator=", "),
            }
            for key, value in export_weights(model).items()
        ]
    )


def linear_rnn_demo(seed: int = 1, x: Sequence[float] = (1.0, 2.0, 3.0)) -> Demo:
    """The second tutorial's SimpleRNN(2, linear) + Dense(1, linear) on x of shape
    (1, 3, 1), weights drawn by Keras's initializers after set_random_seed(seed):
    h_t = x_t w_x + h_(t-1) W_h + b_h, o_t = h_t w_y + b_y, by hand against predict."""
    from forecastlab.models import export_weights

    keras = quiet_keras()
    keras.utils.set_random_seed(seed)
    model = _rnn_model(2, (3, 1), "linear", dense=True)
    inputs = np.asarray(x, np.float64).reshape(1, 3, 1)
    w = {k: np.asarray(v, np.float64) for k, v in export_weights(model).items()}
    hidden_model = keras.Model(model.inputs, [model.get_layer("RNN").output, model.output])
    keras_h, keras_o = hidden_model.predict(inputs.astype(np.float32), verbose=0)
    h = numpy_layers.simple_rnn(
        inputs, w["RNN/kernel"], w["RNN/recurrent_kernel"], w["RNN/bias"], "linear"
    )
    o = numpy_layers.dense(h, w["dense/kernel"], w["dense/bias"])
    rows: list[dict[str, Any]] = []
    worst = max(
        _compare(rows, h[0], np.asarray(keras_h[0], np.float64), value="h_t (t, unit)"),
        _compare(rows, o[0, :, 0], np.asarray(keras_o[0, :, 0], np.float64), value="o_t (t)"),
    )
    return Demo(_weights_frame(model, TUTORIAL_NAMES), pd.DataFrame(rows), worst)


def stateful_demo(seed: int = 1, x: Sequence[float] = (1.0, 2.0, 3.0), calls: int = 3) -> Demo:
    """The same model built stateful with batch_shape (1, 3, 1), called `calls` times on
    the same x: Keras keeps the last hidden state between calls, and so does the hand
    pass (initial_state = the previous call's last state)."""
    from forecastlab.models import export_weights

    keras = quiet_keras()
    keras.utils.set_random_seed(seed)
    model = _rnn_model(2, (3, 1), "linear", dense=True, stateful=True, batch_size=1)
    inputs = np.asarray(x, np.float64).reshape(1, 3, 1)
    w = {k: np.asarray(v, np.float64) for k, v in export_weights(model).items()}
    rows: list[dict[str, Any]] = []
    worst, state = 0.0, np.zeros((1, 2))
    for call in range(1, calls + 1):
        keras_o = np.asarray(model.predict(inputs.astype(np.float32), verbose=0), np.float64)
        h = numpy_layers.simple_rnn(
            inputs,
            w["RNN/kernel"],
            w["RNN/recurrent_kernel"],
            w["RNN/bias"],
            "linear",
            initial_state=state,
        )
        state = h[:, -1]
        o = numpy_layers.dense(h, w["dense/kernel"], w["dense/bias"])
        worst = max(worst, _compare(rows, o[0, :, 0], keras_o[0, :, 0], call=call, value="o_t"))
    return Demo(_weights_frame(model), pd.DataFrame(rows), worst)


def basic_rnn_cell_demo(seed: int = 1, x_batch: np.ndarray = X_BATCH) -> Demo:
    """The fourth tutorial's BasicRNNCell (tanh) with 4 inputs, 6 neurons, 2 time steps on
    its X_batch (3, 2, 4), as Keras's SimpleRNN(6) with seeded weights: outputs
    (3, 2, 6) and final states (3, 6) by hand against Keras."""
    from forecastlab.models import export_weights

    keras = quiet_keras()
    keras.utils.set_random_seed(seed)
    model = _rnn_model(6, x_batch.shape[1:], "tanh", dense=False, return_state=True)
    w = {k: np.asarray(v, np.float64) for k, v in export_weights(model).items()}
    keras_outputs, keras_states = model.predict(x_batch.astype(np.float32), verbose=0)
    outputs = numpy_layers.simple_rnn(
        x_batch, w["RNN/kernel"], w["RNN/recurrent_kernel"], w["RNN/bias"], "tanh"
    )
    rows: list[dict[str, Any]] = []
    worst = max(
        _compare(
            rows, outputs, np.asarray(keras_outputs, np.float64), value="outputs (n, t, unit)"
        ),
        _compare(
            rows, outputs[:, -1], np.asarray(keras_states, np.float64), value="states (n, unit)"
        ),
    )
    return Demo(_weights_frame(model), pd.DataFrame(rows), worst)


def x_batch_table(x_batch: np.ndarray = X_BATCH) -> pd.DataFrame:
    """The tutorial's X_batch: one row per instance and time step."""
    n, steps, _ = x_batch.shape
    return pd.DataFrame(
        [
            {"instance": i, "t": t, "x_t": str(x_batch[i, t].astype(int).tolist())}
            for i in range(n)
            for t in range(steps)
        ]
    )
