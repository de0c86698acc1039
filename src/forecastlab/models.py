"""Architecture builders, keyed by the names params.yaml uses.

Every builder takes the architecture's hyperparameters and an input length (None for
sequences of any length) and returns an uncompiled functional Keras model whose layers
have stable names, so weights can be exported by name and copied between variants.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import keras
import numpy as np

Builder = Callable[..., keras.Model]


# One recurrent layer (its name, its Keras class) then Dense(1), per architecture name.
# rnn1 is the first tutorial's 5-weight model, rnn3 the sunspots tutorial's; they differ
# by their hyperparameters (units, output activation) in params.yaml.
RECURRENT_LAYERS: dict[str, tuple[str, type]] = {
    "rnn1": ("RNN", keras.layers.SimpleRNN),
    "rnn3": ("RNN", keras.layers.SimpleRNN),
    "lstm": ("LSTM", keras.layers.LSTM),
    "gru": ("GRU", keras.layers.GRU),
}


def build_recurrent(
    arch: str,
    hp: Mapping[str, Any],
    input_length: int | None,
    *,
    return_sequences: bool = False,
    batch_size: int | None = None,
    stateful: bool = False,
) -> keras.Model:
    """A recurrent layer of `hp["units"]` named "RNN", "LSTM" or "GRU", then Dense(1).

    Input (batch, input_length, 1) -> output (batch, 1), or (batch, T, 1) with
    return_sequences (Dense applies to every step).
    """
    layer_name, layer_class = RECURRENT_LAYERS[arch]
    inputs = keras.Input(shape=(input_length, 1), batch_size=batch_size, name="series")
    hidden = layer_class(
        hp["units"],
        activation=hp["activation"],
        return_sequences=return_sequences,
        stateful=stateful,
        name=layer_name,
    )(inputs)
    outputs = keras.layers.Dense(1, activation=hp.get("output_activation", "linear"), name="dense")
    return keras.Model(inputs, outputs(hidden), name=arch)


@keras.saving.register_keras_serializable(package="forecastlab")
class LayerNormSimpleRNNCell(keras.layers.Layer):
    """The textbook's recurrent cell with layer normalization: h_t = act(LN(x_t W + h U + b)).

    Registered with Keras, so a `.keras` file holding it loads with no custom_objects.
    """

    def __init__(self, units: int, activation: str = "tanh", **kwargs) -> None:
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units
        self.output_size = units
        self.activation_name = activation
        self.simple_rnn_cell = keras.layers.SimpleRNNCell(
            units, activation=None, name="simple_rnn_cell"
        )
        self.layer_norm = keras.layers.LayerNormalization(name="layer_norm")
        self.activation = keras.activations.get(activation)

    def build(self, input_shape) -> None:
        self.simple_rnn_cell.build(input_shape)
        self.layer_norm.build((None, self.units))
        self.built = True

    def call(self, inputs, states, training=False):
        outputs, _ = self.simple_rnn_cell(inputs, states, training=training)
        normalized = self.activation(self.layer_norm(outputs))
        return normalized, [normalized]

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "activation": self.activation_name}


ARCHITECTURES: dict[str, Builder] = {
    arch: partial(build_recurrent, arch) for arch in RECURRENT_LAYERS
}

# The layer whose per-step output is the hidden state shown and verified by hand.
HIDDEN_LAYER: dict[str, str] = {arch: name for arch, (name, _) in RECURRENT_LAYERS.items()}


def build_model(
    arch: str, hp: Mapping[str, Any], input_length: int | None, **variant
) -> keras.Model:
    """Build architecture `arch`; `variant` passes return_sequences, batch_size, stateful."""
    if arch not in ARCHITECTURES:
        raise KeyError(f"unknown architecture {arch!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    return ARCHITECTURES[arch](hp, input_length, **variant)


def compile_model(model: keras.Model, hp: Mapping[str, Any]) -> keras.Model:
    """Compile with the optimizer and learning rate named in `hp`, MSE loss."""
    optimizer = keras.optimizers.get(
        {"class_name": hp["optimizer"], "config": {"learning_rate": hp["learning_rate"]}}
    )
    model.compile(optimizer=optimizer, loss="mse")
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
