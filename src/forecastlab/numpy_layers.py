"""Keras's layers at prediction time, in numpy: one function per layer type.

No TensorFlow here: verification and reports read weights files and call these (through
the layer kinds of `forecastlab.layers`). Arrays are (n, T, d) sequences or (n, d)
vectors; weights are shaped as Keras stores them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

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
