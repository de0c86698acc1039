"""Keras models built from the architecture plans of `forecastlab.architectures`.

Every model is functional, with the plan's layer names, so weights are exported by name
(`RNN_1/kernel`, `dense/bias`) and copied between variants of one architecture (the
window model, its return-sequences twin, a stateful batch-1 copy).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np

import forecastlab.cells  # noqa: F401  (registers the cells, so load_model reads files holding them)
from forecastlab.architectures import plan
from forecastlab.io import check_model_file
from forecastlab.layers import Layer, layer_kind


def load_model(path: str | Path) -> keras.Model:
    """A model saved by `model.save` (a `.keras` file, which is a zip archive), to predict
    with: uncompiled, so no optimizer state is read (a statefully trained model saves an
    optimizer its window copy never built, which Keras would warn it skips).

    A truncated or corrupted file raises ModelFileError naming it (see
    forecastlab.io.check_model_file).
    """
    check_model_file(path)
    return keras.models.load_model(path, compile=False)


def keras_layer(
    layer: Layer, stateful: bool = False, time_distributed: bool = True
) -> keras.layers.Layer:
    """The Keras layer for one planned layer; recurrent layers keep state when `stateful`.

    A per-step Dense is a TimeDistributed Dense, as the tutorials build it, or with
    `time_distributed=False` the Dense itself, which applies to a sequence's every step at
    once: the same function, but traced as one product rather than one per time step
    (TimeDistributed loops over a static time axis in Python, which makes tracing a
    3650-step evaluation sequence take minutes)."""
    return layer_kind(layer.kind).keras(layer, stateful, time_distributed)


def build_model(
    arch: str,
    hp: Mapping[str, Any],
    input_length: int | None,
    *,
    horizon: int = 1,
    return_sequences: bool = False,
    batch_size: int | None = None,
    stateful: bool = False,
    time_distributed: bool = True,
) -> keras.Model:
    """The uncompiled functional model of `arch`: input (batch, input_length, 1).

    return_sequences builds the twin that forecasts at every step (recurrent
    architectures); batch_size and stateful make the stateful batch-1 reference model;
    time_distributed=False builds per-step Dense layers without TimeDistributed (see
    keras_layer), for evaluating long sequences.
    """
    inputs = keras.Input(shape=(input_length, 1), batch_size=batch_size, name="series")
    outputs = inputs
    for layer in plan(arch, hp, input_length, horizon, sequences=return_sequences):
        outputs = keras_layer(layer, stateful, time_distributed)(outputs)
    return keras.Model(inputs, outputs, name=arch)


def compile_model(model: keras.Model, hp: Mapping[str, Any]) -> keras.Model:
    """Compile with the optimizer and learning rate named in `hp` and its loss: mse, or
    sse (the sum of squared errors over the batch, the random-walk tutorial's loss)."""
    optimizer = keras.optimizers.get(
        {"class_name": hp["optimizer"], "config": {"learning_rate": hp["learning_rate"]}}
    )
    reduction = "sum" if hp.get("loss", "mse") == "sse" else "sum_over_batch_size"
    model.compile(optimizer=optimizer, loss=keras.losses.MeanSquaredError(reduction=reduction))
    return model


def export_weights(model: keras.Model) -> dict[str, np.ndarray]:
    """Every weight as `layer/variable` (e.g. `RNN/kernel`, `dense/bias`) -> float32 array."""
    return {
        f"{layer.name}/{variable.name}": np.asarray(variable.numpy(), dtype=np.float32)
        for layer in model.layers
        for variable in layer.weights
    }


def copy_weights(source: keras.Model, target: keras.Model) -> keras.Model:
    """Copy weights layer by layer, matched by name (variants share names, not shapes of I/O)."""
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())
    return target


def parameter_count(model: keras.Model) -> int:
    """Number of trainable and non-trainable scalars."""
    return int(model.count_params())
