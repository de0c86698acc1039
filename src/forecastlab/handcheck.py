"""Forward passes by hand, in numpy, from exported weights.

No TensorFlow here: verification and reports read weights files and call these.
Weights are keyed `layer/variable` as `forecastlab.models.export_weights` writes them.
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
) -> np.ndarray:
    """h_t = act(x_t W + h_{t-1} U + b) from h_0 = initial_state (zeros by default).

    x (n, T, d) -> all hidden states (n, T, units); the last step is [:, -1].
    """
    x = np.asarray(x, dtype=np.float64)
    n, steps, _ = x.shape
    h = np.zeros((n, kernel.shape[1])) if initial_state is None else initial_state
    projected = x @ kernel + bias
    states = np.empty((n, steps, kernel.shape[1]))
    act = ACTIVATIONS[activation]
    for t in range(steps):
        h = act(projected[:, t] + h @ recurrent_kernel)
        states[:, t] = h
    return states


def rnn1_forward(
    weights: Mapping[str, np.ndarray], x: np.ndarray, activation: str = "tanh"
) -> tuple[np.ndarray, np.ndarray]:
    """The 5-weight model at every step: x (n, T, 1) -> outputs (n, T), hidden (n, T, units)."""
    hidden = simple_rnn(
        x, weights["RNN/kernel"], weights["RNN/recurrent_kernel"], weights["RNN/bias"], activation
    )
    outputs = dense(hidden, weights["dense/kernel"], weights["dense/bias"])
    return outputs[..., 0], hidden


HAND_FORWARDS = {"rnn1": rnn1_forward}


def max_errors(hand: np.ndarray, keras_values: np.ndarray) -> dict[str, float | int | list[int]]:
    """Largest absolute and relative difference, where the largest absolute one sits, and n."""
    hand, keras_values = np.asarray(hand, np.float64), np.asarray(keras_values, np.float64)
    if hand.shape != keras_values.shape:
        raise ValueError(f"shape mismatch: by hand {hand.shape}, Keras {keras_values.shape}")
    diff = np.abs(hand - keras_values)
    worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
    relative = diff / np.maximum(np.abs(keras_values), 1e-12)
    return {
        "max_abs_error": float(diff.max()),
        "max_rel_error": float(relative.max()),
        "worst_index": [int(i) for i in worst],
        "n_compared": int(diff.size),
    }


def verify_predictions(
    arch: str,
    hp: Mapping[str, object],
    weights: Mapping[str, np.ndarray],
    test_inputs: np.ndarray,
    keras_outputs: Mapping[str, np.ndarray],
    atol: float,
) -> dict:
    """Hand forward passes against Keras's saved predictions and hidden states, per mode.

    test_inputs (n, L, 1); keras_outputs holds `stateless` (n,), `stateless_hidden` (n, u),
    `stateful` (T,), `stateful_hidden` (T, u) and `test_series` (T,), as evaluation saves them.
    Each mode records the worst of its predictions and hidden states.
    """
    forward = HAND_FORWARDS[arch]
    activation = str(hp.get("activation", "tanh"))
    window_out, window_hidden = forward(weights, test_inputs, activation)
    series_out, series_hidden = forward(
        weights, keras_outputs["test_series"].reshape(1, -1, 1), activation
    )
    hand = {
        "stateless": {"stateless": window_out[:, -1], "stateless_hidden": window_hidden[:, -1]},
        "stateful": {"stateful": series_out[0], "stateful_hidden": series_hidden[0]},
    }
    modes = {}
    for mode, quantities in hand.items():
        checks = {q: max_errors(values, keras_outputs[q]) for q, values in quantities.items()}
        quantity, worst = max(checks.items(), key=lambda item: item[1]["max_abs_error"])
        modes[mode] = {
            **worst,
            "quantity": quantity,
            "n_compared": sum(c["n_compared"] for c in checks.values()),
            "passed": worst["max_abs_error"] <= atol,
        }
    return {
        "atol": atol,
        "passed": all(m["passed"] for m in modes.values()),
        "modes": modes,
    }
