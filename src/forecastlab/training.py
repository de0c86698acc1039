"""Seeded, deterministic training with progress in the log and a NaN guard."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

log = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def configure_determinism(seed: int, threads: int) -> None:
    """Seed Python, numpy and TensorFlow, turn op determinism on, cap TF's thread pools.

    Thread pools are fixed when TensorFlow first runs an op; in a process that already
    ran one (a test session, a notebook) they stay as they are, which changes no result.
    """
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        log.warning("TensorFlow already started: its thread pools keep their size")
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


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


def fit(
    model: keras.Model,
    inputs: np.ndarray,
    targets: np.ndarray,
    hp: Mapping[str, Any],
    model_name: str,
    log_every: int = 50,
) -> dict[str, list[float]]:
    """Train a compiled model with `hp` (batch_size, epochs, validation_split).

    inputs (n, L, 1), targets (n,) or (n, k). Returns the per-epoch history
    {"loss": [...], "val_loss": [...]}.
    """
    history = model.fit(
        inputs,
        targets,
        batch_size=hp["batch_size"],
        epochs=hp["epochs"],
        validation_split=hp["validation_split"],
        shuffle=True,
        verbose=0,
        callbacks=[ProgressAndNaNGuard(model_name, hp["epochs"], log_every)],
    )
    return {key: [float(v) for v in values] for key, values in history.history.items()}
