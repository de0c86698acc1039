"""Seeded, deterministic training with progress in the log and a NaN guard."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np

from forecastlab.architectures import ARCHITECTURES, target_steps
from forecastlab.models import build_model, compile_model, copy_weights
from forecastlab.numerics import configure
from forecastlab.windows import horizon_of, model_targets

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
    model: keras.Model,
    inputs: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    validate: bool,
    xla: bool = True,
):
    """A tf.function running whole epochs of minibatch steps on the training windows,
    each step (forward, gradients, optimizer update) one program compiled with XLA unless
    not `xla`.

    It takes orders (epochs, n) and the validation windows, and returns the per-epoch
    training loss (the batch losses averaged, weighted by batch size, as `fit` reports
    it) and validation loss (zeros when not `validate`). One compiled call replaces
    `fit`'s per-epoch Python work, and XLA fuses each step's many small operations, whose
    launches, not their arithmetic, are most of a small model's training time. XLA
    compiles static shapes only: the full batches are one loop, a smaller last batch one
    more step.
    """
    import tensorflow as tf

    x, y = tf.constant(inputs), tf.constant(targets)
    n = len(inputs)
    full_batches, rest = divmod(n, batch_size)

    def step(batch):
        x_batch, y_batch = tf.gather(x, batch), tf.gather(y, batch)
        with tf.GradientTape() as tape:
            predictions = model(x_batch, training=True)
            loss = model.compute_loss(x=x_batch, y=y_batch, y_pred=predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))
        return tf.cast(loss, tf.float32) * float(batch.shape[0])

    # One XLA program per step, not per epoch: TensorFlow 2.21's XLA silently miscompiles
    # a program that steps batches of two sizes (a full batch, then the last, smaller one,
    # each with its RNN's while loop): it trains other weights than TensorFlow's kernels,
    # which tests/test_training.py's test_compiled_trainer_equals_fit_fed_the_same_batches
    # catches. Related upstream: tensorflow/tensorflow#122886 (repeated while loops under
    # jit_compile).
    step = tf.function(step, jit_compile=xla)

    @tf.function
    def run(orders, x_val, y_val):
        epochs = orders.shape[0]
        losses = tf.TensorArray(tf.float32, size=epochs)
        val_losses = tf.TensorArray(tf.float32, size=epochs)
        for epoch in tf.range(epochs):
            total = tf.constant(0.0)
            for k in tf.range(full_batches):
                total += step(tf.slice(orders[epoch], [k * batch_size], [batch_size]))
            if rest:
                total += step(tf.slice(orders[epoch], [full_batches * batch_size], [rest]))
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


def compiled_fit(
    model: keras.Model,
    inputs: np.ndarray,
    targets: np.ndarray,
    hp: Mapping[str, Any],
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    log_every: int = 50,
    xla: bool = True,
) -> Callable[[np.ndarray, str], dict[str, list[float]]]:
    """`fit`'s math (epochs, batch size, optimizer, shuffled batches, validation each
    epoch) in compiled blocks of `log_every` epochs, for many epochs on small data: a
    function of the epochs' orders and the model's name in the log, which runs them from
    the model's and its optimizer's current state and returns the history.

    inputs (n, L, 1), targets (n,) or (n, ...). The last validation_split of the windows
    validate, as in `fit`; with validation_split 0, `validation` (inputs, targets) does,
    as fit's validation_data. orders (epochs, n_train) fixes each epoch's shuffle. The
    graph is traced and compiled once (with XLA unless not `xla`), at its first call, for
    every call after it. Returns {"loss": [...], "val_loss": [...]}.
    """
    cut = validation_cut(len(inputs), hp["validation_split"])
    x_train, y_train = inputs[:cut], targets[:cut]
    x_val, y_val = inputs[cut:], targets[cut:]
    if validation is not None and cut == len(inputs):
        x_val, y_val = validation
    validate = len(x_val) > 0
    run = compiled_epochs(model, x_train, y_train, hp["batch_size"], validate, xla)

    def fit_orders(orders: np.ndarray, model_name: str) -> dict[str, list[float]]:
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

    return fit_orders


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
    """Train once with `compiled_fit`; orders default to permutations seeded by `seed`."""
    if orders is None:
        cut = validation_cut(len(inputs), hp["validation_split"])
        orders = epoch_orders(cut, hp["epochs"], seed)
    fit_orders = compiled_fit(model, inputs, targets, hp, validation, log_every)
    return fit_orders(orders, model_name)


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
    """A tf.function, compiled with XLA, running one epoch: the K batches in order, one
    optimizer step each.

    inputs and targets (K, B, L, 1) as `stateful_batches` returns. The model's stateful
    layers carry their state from batch to batch (the gradient stops at the batch's start:
    truncated backpropagation through time). Returns the epoch's loss, the mean of the K
    batch losses (they are all of equal size).
    """
    import tensorflow as tf

    x, y = tf.constant(inputs), tf.constant(targets)
    batches = len(inputs)

    @tf.function(jit_compile=True)
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


def stateful_fit(
    model: keras.Model, series: np.ndarray, hp: Mapping[str, Any], log_every: int = 50
) -> Callable[[str], dict[str, list[float]]]:
    """Stateful training on one series, hp["batch_size"] contiguous streams read in
    chunks: a function of the model's name in the log, which trains from the model's and
    its optimizer's current state and returns the history (the graph compiled once).

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
            f"{model.name}: stateful training needs a stateful model built with batch_size="
            f"{hp['batch_size']} and a fixed input length, got "
            f"{'a' if stateful else 'a stateless'} model of input shape {model.input_shape}"
        )
    inputs, targets = stateful_batches(series, batch_size, length)
    run = stateful_epoch(model, inputs, targets)

    def fit_epochs(model_name: str) -> dict[str, list[float]]:
        guard = ProgressAndNaNGuard(model_name, hp["epochs"], log_every)
        history: dict[str, list[float]] = {"loss": []}
        for epoch in range(hp["epochs"]):
            reset_states(model)
            loss = float(run())
            history["loss"].append(loss)
            guard.on_epoch_end(epoch, {"loss": loss})
        return history

    return fit_epochs


def fit_stateful(
    model: keras.Model,
    series: np.ndarray,
    hp: Mapping[str, Any],
    model_name: str,
    log_every: int = 50,
) -> dict[str, list[float]]:
    """Train once with `stateful_fit`."""
    return stateful_fit(model, series, hp, log_every)(model_name)


# -- a model's seed replicates: one compiled graph for all -------------------------------


class SeedGroup:
    """The seed replicates of one model, trained one after another through one graph.

    The trainer's compiled graph (XLA) closes over one working model and its optimizer.
    Each seed first sets their whole state to what that seed starts from: every variable
    of the model as a model freshly built after `configure(seed)` has it (weights,
    BatchNorm's moving statistics, dropout's seed generator), and the optimizer's slots
    and step count as they were before any step. Tracing and compiling, much of a small
    model's training, then happen once for all the seeds, and a seed trained in a group of
    S runs the same compiled code from the same state, with the same numbers, as alone.

    `model` is the window model (input (batch, L, 1)) the seed trained last, to save and
    evaluate before training the next: stateful_* architectures train a stateful twin on
    train_series (N,) and copy its weights into it; the others train on the windows'
    train part (validated on its validation part with validation_split 0), with the
    compiled-epochs trainer (`fast`) or Keras's fit. Baselines learn nothing.
    """

    def __init__(
        self,
        arch: str,
        hp: Mapping[str, Any],
        length: int,
        windows: Mapping[str, np.ndarray],
        train_series: np.ndarray,
    ) -> None:
        self.arch, self.hp, self.length = arch, hp, length
        self.horizon = horizon_of(windows)
        self.architecture = ARCHITECTURES[arch]
        self.model = compile_model(self._window_model(), hp)
        self.trained = self.model
        if self.architecture.stateful_training:
            self.trained = compile_model(self._stateful_twin(), hp)
        self._fit = self._trainer(windows, train_series)
        optimizer = self.trained.optimizer
        optimizer.build(self.trained.trainable_variables)
        self._optimizer_start = [variable.numpy() for variable in optimizer.variables]

    def _window_model(self) -> keras.Model:
        return build_model(self.arch, self.hp, self.length, horizon=self.horizon)

    def _stateful_twin(self) -> keras.Model:
        hp = self.hp
        return build_model(
            self.arch,
            hp,
            self.length,
            return_sequences=True,
            batch_size=hp["batch_size"],
            stateful=True,
        )

    def _trainer(
        self, windows: Mapping[str, np.ndarray], train_series: np.ndarray
    ) -> Callable[[int, str], dict[str, list[float]]]:
        """The function of (seed, name) that trains `self.trained` from its current state."""
        hp = self.hp
        if not self.architecture.trained:
            return lambda seed, name: {}
        if self.architecture.stateful_training:
            fit_epochs = stateful_fit(self.trained, train_series, hp)
            return lambda seed, name: fit_epochs(name)
        steps = target_steps(self.arch, hp)
        inputs = windows["train_inputs"]
        targets = model_targets(windows, "train", hp["target"], steps)
        validation = None
        if "validation_inputs" in windows:
            validation_targets = model_targets(windows, "validation", hp["target"], steps)
            validation = (windows["validation_inputs"], validation_targets)
        if hp["trainer"] == "fit":
            return lambda seed, name: fit(self.trained, inputs, targets, hp, name, validation)
        xla = self.architecture.xla
        fit_orders = compiled_fit(self.trained, inputs, targets, hp, validation, xla=xla)
        cut = validation_cut(len(inputs), hp["validation_split"])
        return lambda seed, name: fit_orders(epoch_orders(cut, hp["epochs"], seed), name)

    def train(self, seed: int, model_name: str) -> dict[str, list[float]]:
        """Train the seed from its own start, as params ask; returns its history
        {"loss": [...], "val_loss": [...]} ({} for a baseline). `model` then holds it."""
        configure(seed)
        # The window model is built even when the stateful twin is the one trained: the
        # twin's initial weights are the random draws that follow the window model's.
        start = self._window_model()
        if self.architecture.stateful_training:
            start = self._stateful_twin()
        for variable, value in zip(self.trained.variables, start.variables, strict=True):
            variable.assign(value)
        optimizer = self.trained.optimizer
        for variable, value in zip(optimizer.variables, self._optimizer_start, strict=True):
            variable.assign(value)
        history = self._fit(seed, model_name)
        if self.trained is not self.model:
            copy_weights(self.trained, self.model)
        return history
