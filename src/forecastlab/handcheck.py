"""Forward passes by hand, in numpy, from exported weights.

No TensorFlow here: verification and reports read weights files and call these.
Weights are keyed `layer/variable` as `forecastlab.models.export_weights` writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from forecastlab.architectures import RECURRENT_KINDS, Layer, hidden_layer, plan

ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: z,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
}


def dense(
    x: np.ndarray, kernel: np.ndarray, bias: np.ndarray, activation: str = "linear"
) -> np.ndarray:
    """(..., d) @ (d, k) + (k,) -> (..., k), then the activation."""
    return ACTIVATIONS[activation](x @ kernel + bias)


def simple_rnn(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray,
    activation: str = "tanh",
    initial_state: np.ndarray | None = None,
    dtype: type = np.float64,
) -> np.ndarray:
    """h_t = act(x_t W + h_{t-1} U + b) from h_0 = initial_state (zeros by default).

    x (n, T, d) -> all hidden states (n, T, units); the last step is [:, -1].
    """
    x = np.asarray(x, dtype=dtype)
    n, steps, _ = x.shape
    h = np.zeros((n, kernel.shape[1]), dtype) if initial_state is None else initial_state
    projected = x @ kernel + bias
    states = np.empty((n, steps, kernel.shape[1]), dtype)
    act = ACTIVATIONS[activation]
    for t in range(steps):
        h = act(projected[:, t] + h @ recurrent_kernel)
        states[:, t] = h
    return states


def stacked_simple_rnn(
    x: np.ndarray, layers: list[Mapping[str, np.ndarray]], activation: str = "tanh"
) -> list[np.ndarray]:
    """SimpleRNN layers one on another, each reading the previous one's states.

    x (n, T, d); layers hold kernel, recurrent_kernel, bias. Returns each layer's states
    (n, T, units_i); return_sequences=False keeps [:, -1] of the last.
    """
    states = []
    for layer in layers:
        x = simple_rnn(x, layer["kernel"], layer["recurrent_kernel"], layer["bias"], activation)
        states.append(x)
    return states


def lstm(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    dtype: type = np.float64,
) -> tuple[np.ndarray, np.ndarray]:
    """Keras's LSTM (gates in the order i, f, c, o), from zero states.

    x (n, T, d), kernel (d, 4u), recurrent_kernel (u, 4u), bias (4u,) ->
    hidden states (n, T, u), cell states (n, T, u).
    """
    x = np.asarray(x, dtype=dtype)
    n, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    act, gate = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    h, c = np.zeros((n, units), dtype), np.zeros((n, units), dtype)
    projected = x @ kernel + bias
    hidden, cells = np.empty((n, steps, units), dtype), np.empty((n, steps, units), dtype)
    for t in range(steps):
        z = projected[:, t] + h @ recurrent_kernel
        i, f, g, o = (z[:, k * units : (k + 1) * units] for k in range(4))
        c = gate(f) * c + gate(i) * act(g)
        h = gate(o) * act(c)
        hidden[:, t], cells[:, t] = h, c
    return hidden, cells


def gru(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    reset_after: bool = True,
    dtype: type = np.float64,
) -> np.ndarray:
    """Keras's GRU (gates in the order z, r, h), from a zero state.

    x (n, T, d), kernel (d, 3u), recurrent_kernel (u, 3u); bias (2, 3u) with reset_after
    (Keras 3's default: input and recurrent biases, the reset gate applied after the
    recurrent product) or (3u,) without. Returns hidden states (n, T, u).
    """
    x = np.asarray(x, dtype=dtype)
    n, steps, _ = x.shape
    units = recurrent_kernel.shape[0]
    act, gate = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    input_bias, recurrent_bias = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
    projected = x @ kernel + input_bias
    h = np.zeros((n, units), dtype)
    hidden = np.empty((n, steps, units), dtype)

    def split(m: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(m[..., k * units : (k + 1) * units] for k in range(3))

    for t in range(steps):
        x_z, x_r, x_h = split(projected[:, t])
        if reset_after:
            r_z, r_r, r_h = split(h @ recurrent_kernel + recurrent_bias)
            z, r = gate(x_z + r_z), gate(x_r + r_r)
            candidate = act(x_h + r * r_h)
        else:
            u_z, u_r, u_h = split(recurrent_kernel)
            z, r = gate(x_z + h @ u_z), gate(x_r + h @ u_r)
            candidate = act(x_h + (r * h) @ u_h)
        h = z * h + (1.0 - z) * candidate
        hidden[:, t] = h
    return hidden


def layer_norm(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, epsilon: float = 1e-3
) -> np.ndarray:
    """Keras's LayerNormalization, last axis: (x - mean) / sqrt(var + eps) * gamma + beta."""
    mean = x.mean(axis=-1, keepdims=True)
    variance = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def layer_norm_simple_rnn(
    x: np.ndarray,
    kernel: np.ndarray,
    recurrent_kernel: np.ndarray,
    bias: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    activation: str = "tanh",
    epsilon: float = 1e-3,
    dtype: type = np.float64,
) -> np.ndarray:
    """The textbook's LayerNorm SimpleRNN cell: h_t = act(LN(x_t W + h_{t-1} U + b)).

    x (n, T, d) -> hidden states (n, T, units).
    """
    x = np.asarray(x, dtype=dtype)
    n, steps, _ = x.shape
    h = np.zeros((n, kernel.shape[1]), dtype)
    projected = x @ kernel + bias
    states = np.empty((n, steps, kernel.shape[1]), dtype)
    for t in range(steps):
        h = ACTIVATIONS[activation](
            layer_norm(projected[:, t] + h @ recurrent_kernel, gamma, beta, epsilon)
        )
        states[:, t] = h
    return states


def batch_norm(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    moving_mean: np.ndarray,
    moving_variance: np.ndarray,
    epsilon: float = 1e-3,
) -> np.ndarray:
    """Keras's BatchNormalization at prediction time, last axis: the statistics moved
    during training, (x - moving_mean) / sqrt(moving_variance + eps) * gamma + beta.

    x (..., d), every weight (d,) -> (..., d).
    """
    return (x - moving_mean) / np.sqrt(moving_variance + epsilon) * gamma + beta


def conv1d(
    x: np.ndarray,
    kernel: np.ndarray,
    bias: np.ndarray,
    strides: int = 1,
    padding: str = "valid",
    dilation_rate: int = 1,
    activation: str = "linear",
    dtype: type = np.float64,
) -> np.ndarray:
    """Keras's Conv1D: x (n, T, d), kernel (k, d, filters) -> (n, T', filters).

    `causal` pads (k - 1) * dilation zeros on the left; T' = floor((T_padded -
    dilation * (k - 1) - 1) / strides) + 1.
    """
    x = np.asarray(x, dtype=dtype)
    size = kernel.shape[0]
    reach = dilation_rate * (size - 1)
    if padding == "causal":
        x = np.pad(x, ((0, 0), (reach, 0), (0, 0)))
    elif padding != "valid":
        raise ValueError(f"padding {padding!r} is not supported (valid or causal)")
    starts = np.arange(0, x.shape[1] - reach, strides)
    taps = starts[:, None] + dilation_rate * np.arange(size)  # (T', k)
    windows = x[:, taps]  # (n, T', k, d)
    return ACTIVATIONS[activation](np.einsum("ntkd,kdf->ntf", windows, kernel) + bias)


def wavenet(
    x: np.ndarray, convolutions: list[Mapping[str, object]], output: Mapping[str, np.ndarray]
) -> np.ndarray:
    """The textbook's WaveNet: causal dilated Conv1D layers (relu), then Conv1D(k=1).

    convolutions hold kernel, bias and dilation_rate each; x (n, T, 1) -> (n, T, filters).
    """
    for layer in convolutions:
        x = conv1d(
            x,
            layer["kernel"],
            layer["bias"],
            padding="causal",
            dilation_rate=int(layer["dilation_rate"]),
            activation="relu",
        )
    return conv1d(x, output["kernel"], output["bias"])


def flatten(x: np.ndarray) -> np.ndarray:
    """(n, ...) -> (n, prod(...))."""
    return x.reshape(len(x), -1)


def dropout(x: np.ndarray) -> np.ndarray:
    """Dropout at prediction time is the identity."""
    return x


def _layer_weights(weights: Mapping[str, np.ndarray], layer: str) -> dict[str, np.ndarray]:
    """{"LSTM/kernel": ...} -> {"kernel": ...} for one layer."""
    return {
        key.split("/", 1)[1]: value for key, value in weights.items() if key.startswith(f"{layer}/")
    }


def _recurrent(layer: Layer, w: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Every step's hidden state of one planned recurrent layer: (n, T, d) -> (n, T, units)."""
    activation, dtype = str(layer.config["activation"]), x.dtype.type
    weights = (w["kernel"], w["recurrent_kernel"], w["bias"])
    if layer.kind == "simple_rnn":
        return simple_rnn(x, *weights, activation, dtype=dtype)
    if layer.kind == "lstm":
        return lstm(x, *weights, activation, dtype=dtype)[0]
    if layer.kind == "gru":
        return gru(x, *weights, activation, dtype=dtype)
    return layer_norm_simple_rnn(x, *weights, w["gamma"], w["beta"], activation, dtype=dtype)


def _apply(layer: Layer, w: Mapping[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """One planned layer's output, as Keras computes it at prediction time."""
    c = layer.config
    if layer.kind in RECURRENT_KINDS:
        states = _recurrent(layer, w, x)
        return states if c["return_sequences"] else states[:, -1]
    if layer.kind in ("dense", "time_dense"):
        return dense(x, w["kernel"], w["bias"], str(c["activation"]))
    if layer.kind == "conv1d":
        return conv1d(
            x,
            w["kernel"],
            w["bias"],
            strides=int(c["strides"]),
            padding=str(c["padding"]),
            dilation_rate=int(c["dilation_rate"]),
            activation=str(c["activation"]),
            dtype=x.dtype.type,
        )
    if layer.kind == "flatten":
        return flatten(x)
    if layer.kind == "dropout":
        return dropout(x)
    if layer.kind == "batch_norm":
        return batch_norm(x, w["gamma"], w["beta"], w["moving_mean"], w["moving_variance"])
    if layer.kind == "crop":
        return x[:, c["start"] : x.shape[1] - c["end"]]
    if layer.kind == "repeat":
        return np.repeat(x[:, None, :], c["times"], axis=1)
    raise ValueError(f"no hand forward pass for layer kind {layer.kind!r} ({layer.name})")


def forward(
    arch: str,
    hp: Mapping[str, Any],
    weights: Mapping[str, np.ndarray],
    x: np.ndarray,
    horizon: int = 1,
    sequences: bool = False,
    dtype: type = np.float64,
) -> tuple[np.ndarray, np.ndarray | None]:
    """The model of `arch` by hand, layer by layer from its plan, in float64 (or `dtype`:
    float32 computes as Keras does, to measure what its rounding alone moves).

    x (n, L, 1) -> (outputs as Keras shapes them, hidden) where hidden is the output of
    the last recurrent layer ((n, L, units) with sequences, else its last states) or
    None for architectures without one. `sequences` runs the forecast-at-every-step twin.
    """
    x = np.asarray(x, dtype)
    layers = plan(arch, hp, x.shape[1], horizon, sequences)
    keep = hidden_layer(layers)
    hidden = None
    for layer in layers:
        x = _apply(layer, _layer_weights(weights, layer.name), x)
        if layer.name == keep:
            hidden = x
    return x, hidden


# The first tutorial's 5-weight model with its defaults, as a per-step forward pass.
RNN1_HP = {"units": 1, "activation": "tanh", "output_activation": "linear", "target": "next"}


def rnn1_forward(weights: Mapping[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SimpleRNN(1) + Dense(1) at every step: x (n, T, 1) -> outputs (n, T), states (n, T, 1)."""
    outputs, hidden = forward("rnn1", RNN1_HP, weights, x, sequences=True)
    return outputs[..., 0], hidden


# Keras computes in float32. Where a model amplifies rounding (a LayerNorm over nearly
# equal pre-activations, a long recurrence), its values move from the float64 hand pass by
# about what numpy's float32 twin of that pass moves: a value may differ by this many times
# the twin's difference on top of atol + rtol * |keras|. Elsewhere the twin agrees to a few
# float32 ulps, so a wrong forward pass still fails.
FLOAT32_MARGIN = 10.0


def max_errors(
    hand: np.ndarray,
    keras_values: np.ndarray,
    rtol: float = 0.0,
    hand_float32: np.ndarray | None = None,
) -> dict[str, float | int | list[int]]:
    """Largest absolute and relative difference, n, and the worst value against a
    tolerance atol + rtol * |keras| (numpy's allclose) + FLOAT32_MARGIN * |hand -
    hand_float32|: where it sits, its difference and its excess (the difference less
    everything but atol), which must not pass atol; and the largest float32 spread."""
    hand, keras_values = np.asarray(hand, np.float64), np.asarray(keras_values, np.float64)
    if hand.shape != keras_values.shape:
        raise ValueError(f"shape mismatch: by hand {hand.shape}, Keras {keras_values.shape}")
    spread = np.zeros_like(hand) if hand_float32 is None else np.abs(hand - hand_float32)
    diff = np.abs(hand - keras_values)
    excess = diff - rtol * np.abs(keras_values) - FLOAT32_MARGIN * spread
    worst = np.unravel_index(int(np.argmax(excess)), diff.shape)
    relative = diff / np.maximum(np.abs(keras_values), 1e-12)
    return {
        "max_abs_error": float(diff.max()),
        "max_rel_error": float(relative.max()),
        "worst_index": [int(i) for i in worst],
        "worst_error": float(diff[worst]),
        "max_excess": float(excess.max()),
        "max_float32_spread": float(spread.max()),
        "n_compared": int(diff.size),
    }


def _squeeze(values: np.ndarray) -> np.ndarray:
    """Drop a trailing axis of one value per step, as evaluation saves predictions."""
    return values[..., 0] if values.shape[-1] == 1 else values


def verify_predictions(
    arch: str,
    hp: Mapping[str, Any],
    weights: Mapping[str, np.ndarray],
    test_inputs: np.ndarray,
    keras_outputs: Mapping[str, np.ndarray],
    atol: float,
    stateful_atol: float | None = None,
    horizon: int = 1,
    rtol: float = 0.0,
) -> dict:
    """Hand forward passes against Keras's saved predictions and hidden states, per mode.

    test_inputs (n, L, 1); keras_outputs as evaluation saves them: `stateless` (the window
    outputs, a trailing axis of 1 dropped) and `stateless_hidden` (n, units) when the
    model has a recurrent layer; `stateful` (T,), `stateful_hidden` (T, units) and
    `test_series` (T,) when it has stateful modes. The stateful pass is held to
    `stateful_atol` (default atol): float32 rounding accumulates over hundreds of steps.
    A value passes within atol + rtol * |keras| (rtol matters for unscaled series) +
    FLOAT32_MARGIN times what the float32 twin of the hand pass moves it. Each mode records
    the worst of its predictions and hidden states.
    """
    hand, twin = {}, {}  # float64, and the float32 twin (FLOAT32_MARGIN)
    for values, dtype in ((hand, np.float64), (twin, np.float32)):
        window_out, window_hidden = forward(arch, hp, weights, test_inputs, horizon, dtype=dtype)
        values["stateless"] = {"stateless": _squeeze(window_out)}
        if window_hidden is not None:
            last_states = window_hidden[:, -1] if window_hidden.ndim == 3 else window_hidden
            values["stateless"]["stateless_hidden"] = last_states
        if "stateful" in keras_outputs:
            series = keras_outputs["test_series"].reshape(1, -1, 1)
            out, hidden = forward(arch, hp, weights, series, horizon, sequences=True, dtype=dtype)
            values["stateful"] = {"stateful": out[0, :, 0], "stateful_hidden": hidden[0]}
    tolerances = {"stateless": atol, "stateful": atol if stateful_atol is None else stateful_atol}
    modes = {}
    for mode, quantities in hand.items():
        checks = {
            q: max_errors(values, keras_outputs[q], rtol, twin[mode][q])
            for q, values in quantities.items()
        }
        quantity, worst = max(checks.items(), key=lambda item: item[1]["max_excess"])
        modes[mode] = {
            **worst,
            "max_abs_error": max(c["max_abs_error"] for c in checks.values()),
            "max_float32_spread": max(c["max_float32_spread"] for c in checks.values()),
            "quantity": quantity,
            "atol": tolerances[mode],
            "n_compared": sum(c["n_compared"] for c in checks.values()),
            "passed": worst["max_excess"] <= tolerances[mode],
        }
    return {
        "atol": atol,
        "rtol": rtol,
        "passed": all(m["passed"] for m in modes.values()),
        "modes": modes,
    }
