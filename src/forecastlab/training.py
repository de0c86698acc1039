"""Seeded, deterministic training with progress in the log and a NaN guard."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from forecastlab.architectures import ARCHITECTURES, target_steps
from forecastlab.models import build_model, compile_model, copy_weights
from forecastlab.windows import model_targets

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


class ProgressAndNaNGuard(keras.callbacks.Callback):
    """Logs one line every `every` epochs; stops with TrainingDiverged on a non-finite loss."""

    def __init__(self, model_name: str, epochs: int, every: int) -> None:
        super().__init__()
        self.model_name, self.epochs, self.every = model_name, epochs, max(1, every)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        logs = logs or {}
        loss = float(logs.get("loss", math.nan))
        if not math.isfinite(loss):
            raise TrainingDiverged(f"{self.model_name}: loss is {loss} at epoch {epoch + 1}")
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.epochs:
            shown = " ".join(f"{k}={float(v):.6g}" for k, v in logs.items())
            log.info("%s: epoch %d/%d %s", self.model_name, epoch + 1, self.epochs, shown)


def epoch_orders(n: int, epochs: int, seed: int) -> np.ndarray:
    """The order of the training windows in each epoch: (epochs, n) permutations."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n) for _ in range(epochs)]).astype(np.int32)


def validation_cut(n: int, validation_split: float) -> int:
    """Where Keras's validation_split cuts: the last share of the windows validates."""
    return int(math.floor(n * (1.0 - validation_split)))


def compiled_epochs(
    model: keras.Model, inputs: np.ndarray, targets: np.ndarray, batch_size: int, validate: bool
):
    """A tf.function running whole epochs of minibatch steps on the training windows.

    It takes orders (epochs, n) and the validation windows, and returns the per-epoch
    training loss (the batch losses averaged, weighted by batch size, as `fit` reports
    it) and validation loss (zeros when not `validate`). One compiled call replaces
    `fit`'s per-epoch Python work.
    """
    import tensorflow as tf

    x, y = tf.constant(inputs), tf.constant(targets)
    n = len(inputs)
    steps = -(-n // batch_size)

    @tf.function(reduce_retracing=True)
    def run(orders, x_val, y_val):
        epochs = tf.shape(orders)[0]
        losses = tf.TensorArray(tf.float32, size=epochs)
        val_losses = tf.TensorArray(tf.float32, size=epochs)
        for epoch in tf.range(epochs):
            total = tf.constant(0.0)
            for step in tf.range(steps):
                batch = orders[epoch, step * batch_size : tf.minimum((step + 1) * batch_size, n)]
                x_batch, y_batch = tf.gather(x, batch), tf.gather(y, batch)
                with tf.GradientTape() as tape:
                    predictions = model(x_batch, training=True)
                    loss = model.compute_loss(x=x_batch, y=y_batch, y_pred=predictions)
                gradients = tape.gradient(loss, model.trainable_variables)
                model.optimizer.apply_gradients(
                    zip(gradients, model.trainable_variables, strict=True)
                )
                total += tf.cast(loss, tf.float32) * tf.cast(tf.shape(batch)[0], tf.float32)
            losses = losses.write(epoch, total / n)
            val_loss = tf.constant(0.0)
            if validate:
                val_predictions = model(x_val, training=False)
                val_loss = model.compute_loss(
                    x=x_val, y=y_val, y_pred=val_predictions, training=False
                )
            val_losses = val_losses.write(epoch, tf.cast(val_loss, tf.float32))
        return losses.stack(), val_losses.stack()

    return run


def fit_compiled(
    model: keras.Model,
    inputs: np.ndarray,
    targets: np.ndarray,
    hp: Mapping[str, Any],
    model_name: str,
    orders: np.ndarray | None = None,
    seed: int = 0,
    log_every: int = 50,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, list[float]]:
    """`fit`'s math (epochs, batch size, optimizer, shuffled batches, validation each
    epoch) in compiled blocks of `log_every` epochs, for many epochs on small data.

    inputs (n, L, 1), targets (n,) or (n, ...). The last validation_split of the windows
    validate, as in `fit`; with validation_split 0, `validation` (inputs, targets) does,
    as fit's validation_data. orders (epochs, n_train) fixes each epoch's shuffle
    (default: permutations seeded by `seed`). Returns {"loss": [...], "val_loss": [...]}.
    """
    cut = validation_cut(len(inputs), hp["validation_split"])
    x_train, y_train = inputs[:cut], targets[:cut]
    x_val, y_val = inputs[cut:], targets[cut:]
    if validation is not None and cut == len(inputs):
        x_val, y_val = validation
    if orders is None:
        orders = epoch_orders(cut, hp["epochs"], seed)
    validate = len(x_val) > 0
    run = compiled_epochs(model, x_train, y_train, hp["batch_size"], validate)
    guard = ProgressAndNaNGuard(model_name, hp["epochs"], log_every)
    history: dict[str, list[float]] = {"loss": [], "val_loss": []}
    for start in range(0, hp["epochs"], log_every):
        losses, val_losses = run(orders[start : start + log_every], x_val, y_val)
        for offset, (loss, val_loss) in enumerate(
            zip(losses.numpy(), val_losses.numpy(), strict=True)
        ):
            logs = {"loss": float(loss), "val_loss": float(val_loss)}
            if not validate:
                del logs["val_loss"]  # no validation windows, as `fit` without validation
            for key, value in logs.items():
                history[key].append(value)
            guard.on_epoch_end(start + offset, logs)
    return {key: values for key, values in history.items() if values}


def fit(
    model: keras.Model,
    inputs: np.ndarray,
    targets: np.ndarray,
    hp: Mapping[str, Any],
    model_name: str,
    log_every: int = 50,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, list[float]]:
    """Train a compiled model with Keras's `fit` and `hp` (batch_size, epochs, validation_split).

    inputs (n, L, 1), targets (n,) or (n, ...); with validation_split 0, `validation`
    (inputs, targets) gives val_loss. Returns the per-epoch history
    {"loss": [...], "val_loss": [...]}.
    """
    history = model.fit(
        inputs,
        targets,
        batch_size=hp["batch_size"],
        epochs=hp["epochs"],
        validation_split=hp["validation_split"],
        validation_data=validation if hp["validation_split"] == 0 else None,
        shuffle=True,
        verbose=0,
        callbacks=[ProgressAndNaNGuard(model_name, hp["epochs"], log_every)],
    )
    return {key: [float(v) for v in values] for key, values in history.history.items()}


# -- stateful training: contiguous streams, state carried across batches ---------------


def stateful_batches(
    series: np.ndarray, batch_size: int, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cut series (N,) into `batch_size` contiguous streams, each read in consecutive chunks.

    Stream b starts at b * S, S = (N - 1) // batch_size steps (one more point for the last
    target); steps after its last whole chunk of `length` are dropped. Returns inputs and
    next-step targets, both (K, batch_size, length, 1) float32 with K = S // length, where
    row b of batch k continues row b of batch k - 1: a stateful model carries its state
    from one to the next.
    """
    series = np.asarray(series, np.float32)
    steps = (len(series) - 1) // batch_size
    chunks = steps // length
    if chunks < 1:
        raise ValueError(
            f"a series of {len(series)} points cut into {batch_size} streams of {steps} steps "
            f"leaves no whole chunk of length {length}"
        )
    starts = np.arange(batch_size)[:, None] * steps + np.arange(chunks * length)[None, :]
    # (batch_size, K * length) -> (K, batch_size, length, 1): chunk k of every stream.
    inputs, targets = (
        series[starts + shift].reshape(batch_size, chunks, length).transpose(1, 0, 2)[..., None]
        for shift in (0, 1)
    )
    return inputs, targets


def reset_states(model: keras.Model) -> None:
    """Set the state of every stateful layer of `model` back to zero."""
    for layer in model.layers:
        if hasattr(layer, "reset_state"):
            layer.reset_state()


def stateful_epoch(model: keras.Model, inputs: np.ndarray, targets: np.ndarray):
    """A tf.function running one epoch: the K batches in order, one optimizer step each.

    inputs and targets (K, B, L, 1) as `stateful_batches` returns. The model's stateful
    layers carry their state from batch to batch (the gradient stops at the batch's start:
    truncated backpropagation through time). Returns the epoch's loss, the mean of the K
    batch losses (they are all of equal size).
    """
    import tensorflow as tf

    x, y = tf.constant(inputs), tf.constant(targets)
    batches = len(inputs)

    @tf.function
    def run():
        total = tf.constant(0.0)
        for k in tf.range(batches):
            with tf.GradientTape() as tape:
                predictions = model(x[k], training=True)
                loss = model.compute_loss(x=x[k], y=y[k], y_pred=predictions)
            gradients = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
            total += tf.cast(loss, tf.float32)
        return total / batches

    return run


def fit_stateful(
    model: keras.Model,
    series: np.ndarray,
    hp: Mapping[str, Any],
    model_name: str,
    log_every: int = 50,
) -> dict[str, list[float]]:
    """Train statefully on one series: hp["batch_size"] contiguous streams read in chunks.

    `model` is compiled and built as build_model(arch, hp, L, return_sequences=True,
    batch_size=hp["batch_size"], stateful=True): every step's output is scored against the
    next value. The state is carried across batches and reset at the start of each epoch.
    Batches keep their order, so there is no shuffle and no seed: seed the weights with
    `forecastlab.numerics.configure` before building. series (N,) is the training part only.
    Returns {"loss": [...]} per epoch; a non-finite loss raises TrainingDiverged.
    """
    batch_size, length = model.input_shape[0], model.input_shape[1]
    stateful = any(getattr(layer, "stateful", False) for layer in model.layers)
    if not stateful or batch_size != hp["batch_size"] or length is None:
        raise ValueError(
            f"{model_name}: stateful training needs a stateful model built with batch_size="
            f"{hp['batch_size']} and a fixed input length, got "
            f"{'a' if stateful else 'a stateless'} model of input shape {model.input_shape}"
        )
    inputs, targets = stateful_batches(series, batch_size, length)
    run = stateful_epoch(model, inputs, targets)
    guard = ProgressAndNaNGuard(model_name, hp["epochs"], log_every)
    history: dict[str, list[float]] = {"loss": []}
    for epoch in range(hp["epochs"]):
        reset_states(model)
        loss = float(run())
        history["loss"].append(loss)
        guard.on_epoch_end(epoch, {"loss": loss})
    return history


def train(
    model: keras.Model,
    arch: str,
    hp: Mapping[str, Any],
    windows: Mapping[str, np.ndarray],
    train_series: np.ndarray,
    model_name: str,
    seed: int,
) -> dict[str, list[float]]:
    """Train a compiled window model of `arch` as params ask, and return its history.

    Baselines learn nothing ({}); stateful_* architectures train a stateful twin on
    train_series (N,) and copy its weights back; the others train on the windows'
    train part (validated on its validation part with validation_split 0), with the
    compiled-epochs trainer (`fast`) or Keras's fit.
    """
    architecture = ARCHITECTURES[arch]
    if not architecture.trained:
        return {}
    if architecture.stateful_training:
        twin = build_model(
            arch,
            hp,
            model.input_shape[1],
            return_sequences=True,
            batch_size=hp["batch_size"],
            stateful=True,
        )
        history = fit_stateful(compile_model(twin, hp), train_series, hp, model_name)
        copy_weights(twin, model)
        return history
    steps = target_steps(arch, hp)
    inputs = windows["train_inputs"]
    targets = model_targets(windows, "train", hp["target"], steps)
    validation = None
    if "validation_inputs" in windows:
        validation_targets = model_targets(windows, "validation", hp["target"], steps)
        validation = (windows["validation_inputs"], validation_targets)
    if hp["trainer"] == "fast":
        return fit_compiled(
            model, inputs, targets, hp, model_name, seed=seed, validation=validation
        )
    return fit(model, inputs, targets, hp, model_name, validation=validation)
