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

import json
from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np

from forecastlab.data import unscale
from forecastlab.models import build_model, copy_weights

# Windows per forward pass of an evaluation.
PREDICT_BATCH = 4096


def _with_hidden(model: keras.Model) -> keras.Model:
    """The same model, also returning the output of its last recurrent layer (or nothing)."""
    recurrent = [layer for layer in model.layers if isinstance(layer, keras.layers.RNN)]
    if not recurrent:
        return model
    return keras.Model(model.inputs, [model.outputs[0], recurrent[-1].output])


def predict(model: keras.Model, inputs: np.ndarray) -> np.ndarray | list[np.ndarray]:
    """`model.predict(inputs, batch_size=PREDICT_BATCH)`'s batches and outputs, without its
    tf.data pipeline: TensorFlow 2.21 logs an E0000 error on every such pipeline that
    Keras 3.15 builds (an attribute its MapDataset op does not know), and tracing it per
    call is most of a short evaluation's time.

    inputs (n, ...) -> the model's output(s), each (n, ...).
    """
    batches = [
        model.predict_on_batch(inputs[start : start + PREDICT_BATCH])
        for start in range(0, len(inputs), PREDICT_BATCH)
    ]
    if isinstance(batches[0], (list, tuple)):
        return [np.concatenate(parts) for parts in zip(*batches, strict=True)]
    return np.concatenate(batches)


def _predict_sequences(
    model: keras.Model, arch: str, hp: Mapping[str, Any], sequences: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Run every row of `sequences` from a zero state with the return_sequences twin, in one
    forward pass.

    sequences (n, T) -> predictions (n, T) where predictions[i, t] forecasts
    sequences[i, t + 1], hidden states (n, T, units) after reading sequences[i, t].
    """
    n, steps = sequences.shape
    twin = _sequence_twin(model, arch, hp)
    predictions, hidden = predict(twin, sequences.reshape(n, steps, 1).astype(np.float32))
    return predictions.reshape(n, steps), hidden.reshape(n, steps, -1)


# What a twin stands in for -> (the twin, the twin with its hidden output), for the last
# TWINS_KEPT: a model's evaluation uses two (its window clone and its sequence twin).
_TWINS: dict[str, tuple[keras.Model, keras.Model]] = {}
TWINS_KEPT = 4


def _twin(key: str, build: Callable[[], keras.Model], model: keras.Model) -> keras.Model:
    """The model `build` makes, also returning its hidden states, with `model`'s current
    weights. Built once per `key`, so once for all the seeds a train job evaluates, and
    traced once per input shape: tracing, not running, is most of a short evaluation."""
    if key not in _TWINS:
        if len(_TWINS) == TWINS_KEPT:
            del _TWINS[next(iter(_TWINS))]  # the oldest: another model's, done with
        twin = build()
        _TWINS[key] = (twin, _with_hidden(twin))
    twin, with_hidden = _TWINS[key]
    copy_weights(model, twin)
    return with_hidden


def _sequence_twin(model: keras.Model, arch: str, hp: Mapping[str, Any]) -> keras.Model:
    """The return_sequences twin of `model`, whichever stateful modes use it: its per-step
    Dense layers apply to the whole sequence (build_model's time_distributed=False)."""
    return _twin(
        json.dumps(["sequences", arch, hp], sort_keys=True),
        lambda: build_model(arch, hp, None, return_sequences=True, time_distributed=False),
        model,
    )


def stateless_predict(
    model: keras.Model, inputs: np.ndarray
) -> tuple[np.ndarray, np.ndarray | None]:
    """Predict every window from a zero state.

    inputs (n, L, 1) -> predictions as the model shapes them with a trailing axis of one
    value dropped ((n,) for next-value models), and the last recurrent layer's final
    states (n, units), or None for a model without one.
    """
    # A clone built once per configuration, so once for all of a train job's seeds.
    key = json.dumps(["window", model.get_config()], sort_keys=True, default=repr)
    twin = _twin(key, lambda: keras.models.clone_model(model), model)
    outputs = predict(twin, inputs)
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


def original_unit_metrics(
    predictions: np.ndarray, targets: np.ndarray, offset: float, scale_: float
) -> dict[str, float]:
    """`point_metrics` of scaled (n,) predictions and targets, back in the series' units.

    offset and scale_ are the prepared data's scaler (scaled = (x - offset) / scale_), so
    MSE grows by scale_**2 and RMSE and MAE by |scale_|; the offset cancels.
    """
    return point_metrics(unscale(predictions, offset, scale_), unscale(targets, offset, scale_))


def mase(predictions: np.ndarray, targets: np.ndarray, train_series: np.ndarray) -> float:
    """Mean absolute scaled error: MAE of (n,) predictions against (n,) targets, divided by
    the in-sample MAE of the one-step naive forecast on train_series (m,), mean |x_t - x_t-1|
    (or on each series of a panel (k, m)).

    Below 1: better than repeating the last value was on the training part. Scale-free,
    so scaled and original units give the same value.
    """
    train = np.asarray(train_series, np.float64)
    if train.shape[-1] < 2:
        raise ValueError(f"MASE needs a training series of 2 or more points, got {train.shape[-1]}")
    naive_mae = float(np.mean(np.abs(np.diff(train))))
    if naive_mae == 0.0:
        raise ValueError("MASE is undefined: the training series is constant (naive MAE 0)")
    return point_metrics(predictions, targets)["mae"] / naive_mae


def interval_coverage(lower: np.ndarray, upper: np.ndarray, targets: np.ndarray) -> float:
    """Share of (n,) targets inside their [lower, upper] interval, bounds included."""
    lower, upper, targets = (np.asarray(a, np.float64) for a in (lower, upper, targets))
    if not lower.shape == upper.shape == targets.shape:
        raise ValueError(
            f"lower {lower.shape}, upper {upper.shape} and targets {targets.shape} differ in shape"
        )
    crossed = int(np.sum(lower > upper))
    if crossed:
        raise ValueError(f"{crossed} intervals have their lower bound above their upper bound")
    return float(np.mean((lower <= targets) & (targets <= upper)))


def per_horizon_mse(predictions: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """MSE at each horizon: predictions (n, h) and targets (n, h) -> (h,), where entry j
    averages the squared errors of the (j + 1)-step-ahead forecasts over the n windows."""
    predictions, targets = np.asarray(predictions, np.float64), np.asarray(targets, np.float64)
    if predictions.ndim != 2 or predictions.shape != targets.shape:
        raise ValueError(
            f"predictions {predictions.shape} and targets {targets.shape} must both be (n, h)"
        )
    return np.mean((predictions - targets) ** 2, axis=0)


def mc_dropout_predict(
    model: keras.Model, inputs: np.ndarray, samples: int, seed: int, level: float = 0.95
) -> dict[str, np.ndarray]:
    """Monte Carlo dropout: `samples` forward passes with dropout on.

    inputs (n, L, 1) -> mean, lower and upper bounds of the central `level` interval,
    each shaped as the model's outputs with a trailing axis of one value dropped.
    """
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    # Traced once: eager calls rebuild every op on each pass (10 times slower on the
    # textbook's 100 passes); the dropout masks draw from the same seed generators.
    stochastic = tf.function(lambda x: model(x, training=True))
    x = tf.constant(inputs)
    draws = np.stack([stochastic(x).numpy() for _ in range(samples)])
    if draws.shape[-1] == 1:
        draws = draws[..., 0]
    tail = (1.0 - level) / 2 * 100
    return {
        "mean": draws.mean(axis=0),
        "lower": np.percentile(draws, tail, axis=0),
        "upper": np.percentile(draws, 100 - tail, axis=0),
    }


def iterative_forecast(model: keras.Model, inputs: np.ndarray, horizon: int) -> np.ndarray:
    """A one-step model fed its own forecasts: each forecast joins the window's end and
    its first value drops off, `horizon` times (one `predict` call a step ahead).

    inputs (n, L, 1) -> forecasts (n, horizon).
    """
    window = np.asarray(inputs, np.float32)
    forecasts = []
    for _ in range(horizon):
        step = predict(model, window).reshape(len(window), 1, 1)
        forecasts.append(step[:, 0, 0])
        window = np.concatenate([window[:, 1:], step], axis=1)
    return np.stack(forecasts, axis=1)


def scored(
    forecasts: np.ndarray,
    targets: np.ndarray,
    offset: float,
    scale_: float,
    train_series: np.ndarray,
) -> dict[str, float]:
    """Every metric of forecasts against targets of one shape: MSE, RMSE and MAE in
    scaled and in original units (`_orig`), and MASE against train_series's naive
    forecast (a panel (m, T) of series counts step to step within each)."""
    flat, truth = np.ravel(forecasts), np.ravel(targets)
    original = original_unit_metrics(flat, truth, offset, scale_)
    return {
        **point_metrics(flat, truth),
        **{f"{key}_orig": value for key, value in original.items() if key != "n"},
        "mase": mase(flat, truth, train_series),
    }
