"""Stateless and stateful prediction, and the metrics that compare them.

Stateless: each window of length L starts from a zero state (what `predict` on windows does).
Stateful: one state carried through the whole test series from zero, one step at a time,
as the first tutorial's hand loop and its stateful batch-1 model do. It is computed in one
`predict` call over the whole sequence with a return_sequences twin of the model, which
equals the per-step stateful model (see `stateful_predict_stepwise`, kept as the reference).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from forecastlab.models import build_model, copy_weights


def _with_hidden(model: keras.Model) -> keras.Model:
    """The same model, also returning the output of its last recurrent layer (or nothing)."""
    recurrent = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    if not recurrent:
        return model
    return keras.Model(model.inputs, [model.outputs[0], recurrent[-1].output])


def stateless_predict(
    model: keras.Model, inputs: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predict every window from a zero state.

    inputs (n, L, 1) -> predictions as the model shapes them with a trailing axis of one
    value dropped ((n,) for next-value models), and the last recurrent layer's final
    states (n, units), or None for a model without one.
    """
    outputs = _with_hidden(model).predict(inputs, verbose=0, batch_size=4096)
    predictions, hidden = outputs if isinstance(outputs, list) else (outputs, None)
    if predictions.shape[-1] == 1:
        predictions = predictions[..., 0]
    if hidden is not None and hidden.ndim == 3:
        hidden = hidden[:, -1]  # a layer returning sequences: its state after the window
    return predictions, hidden


def stateful_predict(
    model: keras.Model, arch: str, hp: Mapping[str, Any], series: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Carry one state through `series` from zero, in a single call.

    series (T,) -> predictions (T,) where predictions[t] forecasts series[t + 1],
    hidden states (T, units) where hidden[t] is the state after reading series[t].
    """
    twin = copy_weights(model, build_model(arch, hp, None, return_sequences=True))
    predictions, hidden = _with_hidden(twin).predict(
        series.reshape(1, -1, 1).astype(np.float32), verbose=0
    )
    return predictions.reshape(len(series)), hidden.reshape(len(series), -1)


def stateful_predict_stepwise(
    model: keras.Model, arch: str, hp: Mapping[str, Any], series: np.ndarray
) -> np.ndarray:
    """The tutorial's formulation: a stateful batch-1 model fed one value per `predict` call.

    About 86 ms a step on 2 CPU cores; the reference that `stateful_predict` must equal.
    series (T,) -> predictions (T,) as in `stateful_predict`.
    """
    stateful = build_model(arch, hp, 1, batch_size=1, stateful=True)
    copy_weights(model, stateful)
    for layer in stateful.layers:
        if hasattr(layer, "reset_state"):
            layer.reset_state()
    steps = [
        stateful.predict(np.float32(value).reshape(1, 1, 1), verbose=0)[0, 0] for value in series
    ]
    return np.asarray(steps, dtype=np.float32)


def point_metrics(predictions: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """MSE, RMSE and MAE of (n,) predictions against (n,) targets, with n."""
    errors = np.asarray(predictions, np.float64) - np.asarray(targets, np.float64)
    mse = float(np.mean(errors**2))
    return {
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "mae": float(np.mean(np.abs(errors))),
        "n": len(errors),
    }


def compare_modes(
    test_series: np.ndarray, positions: np.ndarray, stateless: np.ndarray, stateful: np.ndarray
) -> dict[str, dict[str, float]]:
    """Metrics of both modes on the same targets: test_series[positions].

    positions (m,) index the value each stateless window forecasts (its start + L);
    stateless (m,) are those forecasts; stateful (T,) comes from one pass, stateful[t]
    forecasting t + 1, so stateful[positions - 1] is scored. The stateful pass has read
    as many values as a window before its first scored forecast; `stateful_all` also
    scores its forecasts from the very first step.
    """
    targets = test_series[positions]
    return {
        "stateless": point_metrics(stateless, targets),
        "stateful": point_metrics(stateful[positions - 1], targets),
        "stateful_all": point_metrics(stateful[:-1], test_series[1:]),
    }


def mc_dropout_predict(
    model: keras.Model, inputs: np.ndarray, samples: int, seed: int, level: float = 0.95
) -> dict[str, np.ndarray]:
    """Monte Carlo dropout: `samples` forward passes with dropout on.

    inputs (n, L, 1) -> mean, lower and upper bounds of the central `level` interval,
    each shaped as the model's outputs with a trailing axis of one value dropped.
    """
    keras.utils.set_random_seed(seed)
    draws = np.stack(
        [keras.ops.convert_to_numpy(model(inputs, training=True)) for _ in range(samples)]
    )
    if draws.shape[-1] == 1:
        draws = draws[..., 0]
    tail = (1.0 - level) / 2 * 100
    return {
        "mean": draws.mean(axis=0),
        "lower": np.percentile(draws, tail, axis=0),
        "upper": np.percentile(draws, 100 - tail, axis=0),
    }


def interval_coverage(lower: np.ndarray, upper: np.ndarray, targets: np.ndarray) -> float:
    """The share of targets inside [lower, upper] (arrays of one shape)."""
    return float(np.mean((targets >= lower) & (targets <= upper)))


def per_horizon_mse(predictions: np.ndarray, targets: np.ndarray) -> list[float]:
    """(n, H) forecasts against (n, H) targets -> the MSE at each of the H steps ahead."""
    errors = np.asarray(predictions, np.float64) - np.asarray(targets, np.float64)
    return [float(v) for v in np.mean(errors**2, axis=0)]
