"""Keras cells of the project's own, registered so that a `.keras` file holding one loads
with no custom_objects (once this module is imported: `forecastlab.models` imports it)."""

from __future__ import annotations

import keras


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
