"""Stateless and stateful prediction, and the metrics that compare them.

Stateless: each window of length L starts from a zero state (what `predict` on windows does).
Stateful: one state carried through the whole test series from zero, one step at a time,
as the first tutorial's hand loop and its stateful batch-1 model do. It is computed in one
`predict` call over the whole sequence with a return_sequences twin of the model, which
equals the per-step stateful model (see `stateful_predict_stepwise`, kept as the reference).
Two more stateful modes: warm (the state carried from the start of the training part on
into the test part) and reset every L steps; each is also one `predict` call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from forecastlab.models import HIDDEN_LAYER, build_model, copy_weights


def _with_hidden(model: keras.Model, arch: str) -> keras.Model:
    """The same model, also returning the output of its hidden-state layer."""
    hidden = model.get_layer(HIDDEN_LAYER[arch]).output
    return keras.Model(model.inputs, [model.outputs[0], hidden])


def _predict_sequences(
    model: keras.Model, arch: str, hp: Mapping[str, Any], sequences: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Run every row of `sequences` from a zero state with the return_sequences twin, in one
    `predict` call.

    sequences (n, T) -> predictions (n, T) where predictions[i, t] forecasts
    sequences[i, t + 1], hidden states (n, T, units) after reading sequences[i, t].
    """
    n, steps = sequences.shape
    twin = copy_weights(model, build_model(arch, hp, None, return_sequences=True))
    predictions, hidden = _with_hidden(twin, arch).predict(
        sequences.reshape(n, steps, 1).astype(np.float32), verbose=0, batch_size=4096
    )
    return predictions.reshape(n, steps), hidden.reshape(n, steps, -1)


def stateless_predict(
    model: keras.Model, arch: str, inputs: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Predict every window from a zero state.

    inputs (n, L, 1) -> predictions (n,), final hidden states (n, units).
    """
    predictions, hidden = _with_hidden(model, arch).predict(inputs, verbose=0, batch_size=4096)
    return predictions.reshape(len(inputs)), hidden.reshape(len(inputs), -1)


def stateful_predict(
    model: keras.Model, arch: str, hp: Mapping[str, Any], series: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Carry one state through `series` from zero, in a single call.

    series (T,) -> predictions (T,) where predictions[t] forecasts series[t + 1],
    hidden states (T, units) where hidden[t] is the state after reading series[t].
    """
    predictions, hidden = _predict_sequences(model, arch, hp, series.reshape(1, -1))
    return predictions[0], hidden[0]


def stateful_warm_predict(
    model: keras.Model,
    arch: str,
    hp: Mapping[str, Any],
    history: np.ndarray,
    test: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Carry one state from the start of `history` (train + validation) on into `test`.

    The test part then starts from the state the whole past leaves, not from zero, as a
    model deployed after training would. One call over the concatenation.
    history (H,), test (T,) -> predictions (T,) where predictions[t] forecasts test[t + 1],
    hidden states (T, units) where hidden[t] is the state after reading test[t].
    """
    series = np.concatenate([np.asarray(history), np.asarray(test)])
    predictions, hidden = stateful_predict(model, arch, hp, series)
    return predictions[len(history) :], hidden[len(history) :]


def stateful_reset_predict(
    model: keras.Model, arch: str, hp: Mapping[str, Any], series: np.ndarray, every: int
) -> tuple[np.ndarray, np.ndarray]:
    """Carry the state through `series` but reset it to zero every `every` steps (at steps
    0, every, 2 * every, ...), as a stateful model trained on non-overlapping windows of
    length `every` that resets between them.

    The chunks between resets are independent, so they run as one batch in one call. The
    last chunk is padded at its end: a recurrent layer is causal, so padding after a step
    changes nothing up to it, and the padded steps are cut off.
    series (T,) -> predictions (T,) where predictions[t] forecasts series[t + 1],
    hidden states (T, units) where hidden[t] is the state after reading series[t].
    """
    if every < 1:
        raise ValueError(f"the state must be reset every 1 or more steps, got every={every}")
    steps = len(series)
    chunks = -(-steps // every)
    padded = np.zeros(chunks * every, dtype=np.float32)
    padded[:steps] = series
    predictions, hidden = _predict_sequences(model, arch, hp, padded.reshape(chunks, every))
    return predictions.reshape(-1)[:steps], hidden.reshape(chunks * every, -1)[:steps]


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
