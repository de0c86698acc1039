"""Forward passes by hand, in numpy, from exported weights, and their check against Keras.

A model's plan (`forecastlab.architectures`) is computed layer by layer, each layer as its
kind's entry of `forecastlab.layers` says (the numpy of `forecastlab.numpy_layers`).
No TensorFlow here: verification and reports read weights files and call these.
Weights are keyed `layer/variable` as `forecastlab.models.export_weights` writes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from forecastlab.architectures import hidden_layer, plan
from forecastlab.layers import layer_kind, layer_weights


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
        x = layer_kind(layer.kind).output(layer, layer_weights(weights, layer.name), x)
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
