"""One registry of layer kinds: everything the project knows about a kind of layer.

A plan (`forecastlab.architectures`) is a list of `Layer`s; each names its kind, a key of
LAYER_KINDS. The kind's `LayerKind` says how Keras builds it, how numpy computes it at
prediction time (`forecastlab.numpy_layers`), how its weights are named and split into
gates, and how the computations report writes its equations and intermediate values.
Adding a layer kind is adding its entry here, and its tests.

Keras is imported inside the builders: importing this module starts no TensorFlow, so
the verify job (numpy only) reads the same entries as the train job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from forecastlab import numpy_layers as nl

Weights = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Layer:
    """One planned layer: its kind (a key of LAYER_KINDS), name and settings."""

    kind: str
    name: str
    config: Mapping[str, Any] = field(default_factory=dict)


# (layer, stateful, time_distributed) -> the Keras layer (see forecastlab.models.keras_layer).
KerasBuilder = Callable[[Layer, bool, bool], Any]
# (layer, its weights, x (n, T, d)) -> {"h": every step's output, and "c" for the LSTM}.
NumpyPass = Callable[[Layer, Weights, np.ndarray], dict[str, np.ndarray]]
# (layer, its number in a recurrent stack or None, the symbol of its input) ->
# (HTML lines of its equations at step t, legend naming its symbols' Keras weights).
Equations = Callable[[Layer, int | None, str], tuple[list[str], str]]
# (layer, its weights, first instance's {"input": (T, d), "h": (T, u), "c"}, step t) ->
# the named intermediate values (u,) of step t, the compared output last.
Details = Callable[[Layer, Weights, Mapping[str, np.ndarray], int], dict[str, np.ndarray]]


@dataclass(frozen=True)
class LayerKind:
    """What a kind of layer is, for every part of the project.

    keras: builds it; numpy: computes it by hand (every step, float64 or x's dtype).
    stack_name: for recurrent kinds, the name their layer gets (numbered in a stack); a
    recurrent layer's state carries from step to step and gives only its last step
    unless it returns sequences. compared: what the computations report holds against
    Keras: "h" the output (written `symbol`), "c" the cell state (the Keras cell's
    second state). weight_meanings: variable -> what it is; gates: the column blocks of
    its weights in Keras's order; gate_rows: variable -> what its rows hold. equations,
    equations_note and details: how the report explains it (None: the report cannot).
    training_only: it acts only in training (the identity when predicting).
    """

    keras: KerasBuilder
    numpy: NumpyPass
    stack_name: str | None = None
    compared: tuple[str, ...] = ("h",)
    symbol: str = "h"
    weight_meanings: Mapping[str, str] = field(default_factory=dict)
    gates: tuple[str, ...] = ()
    gate_rows: Mapping[str, str] = field(default_factory=dict)
    equations: Equations | None = None
    equations_note: str = ""
    details: Details | None = None
    training_only: bool = False

    @property
    def recurrent(self) -> bool:
        return self.stack_name is not None

    def output(self, layer: Layer, w: Weights, x: np.ndarray) -> np.ndarray:
        """The layer's output at prediction time as Keras shapes it: x (n, T, d) ->
        (n, T', d'), or (n, d') for a recurrent layer that keeps its last step."""
        h = self.numpy(layer, w, x)["h"]
        return h if not self.recurrent or layer.config["return_sequences"] else h[:, -1]

    def gate_blocks(self, layer: Layer, variable: str) -> str:
        """What the columns (and rows) of one of its weights hold, in Keras's gate order."""
        if not self.gates:
            return ""
        units = int(layer.config["units"])
        spans = ", ".join(
            f"{k * units}-{(k + 1) * units - 1}: {name}" for k, name in enumerate(self.gates)
        )
        rows = self.gate_rows.get(variable)
        return f"{rows}; columns {spans}" if rows else f"columns {spans}"


def layer_weights(weights: Weights, name: str) -> dict[str, np.ndarray]:
    """{"LSTM/kernel": ...} -> {"kernel": ...} for the layer called `name`."""
    prefix = f"{name}/"
    return {key[len(prefix) :]: value for key, value in weights.items() if key.startswith(prefix)}


def _keras_layers() -> Any:
    import keras

    return keras.layers


def _activation(layer: Layer) -> str:
    return str(layer.config.get("activation", "linear"))


# --- how the computations report writes a layer (HTML: <sub>, <sup>, no LaTeX) -----------

SUB = {"t": "<sub>t</sub>", "t-1": "<sub>t&minus;1</sub>"}


def sup(index: int | None) -> str:
    """A stacked layer's number as a superscript, nothing for a layer alone."""
    return f"<sup>({index})</sup>" if index is not None else ""


def _applied(argument: str, function: str) -> str:
    return argument if function == "linear" else f"{function}({argument})"


def _recurrent_legend(layer: Layer, index: int | None) -> str:
    s = sup(index)
    return (
        f"W{s} = <code>{layer.name}/kernel</code>, U{s} = <code>{layer.name}/recurrent_kernel"
        f"</code>, b{s} = <code>{layer.name}/bias</code>"
    )


def _previous(values: Mapping[str, np.ndarray], quantity: str, t: int) -> np.ndarray:
    """The state before step t: the previous step's, zeros at the first."""
    return values[quantity][t - 1] if t else np.zeros(values["h"].shape[-1])


def _split(values: np.ndarray, blocks: int) -> list[np.ndarray]:
    units = values.shape[-1] // blocks
    return [values[..., k * units : (k + 1) * units] for k in range(blocks)]


RECURRENT_MEANINGS = {
    "kernel": "input weights W (inputs x units)",
    "recurrent_kernel": "recurrent weights U (units x units)",
    "bias": "bias b",
}
DENSE_MEANINGS = {"kernel": "output weights V (inputs x outputs)", "bias": "output bias c"}


# --- recurrent kinds -----------------------------------------------------------------------


def _recurrent_keras(class_name: str) -> KerasBuilder:
    def build(layer: Layer, stateful: bool, time_distributed: bool) -> Any:
        c = layer.config
        recurrent_class = getattr(_keras_layers(), class_name)
        return recurrent_class(
            c["units"],
            activation=c["activation"],
            name=layer.name,
            return_sequences=c["return_sequences"],
            stateful=stateful,
        )

    return build


def _simple_rnn_numpy(layer: Layer, w: Weights, x: np.ndarray) -> dict[str, np.ndarray]:
    weights = (w["kernel"], w["recurrent_kernel"], w["bias"])
    return {"h": nl.simple_rnn(x, *weights, _activation(layer), dtype=x.dtype.type)}


def _simple_rnn_equations(layer: Layer, index: int | None, source: str) -> tuple[list[str], str]:
    s, t, p = sup(index), SUB["t"], SUB["t-1"]
    argument = f"{source} W{s} + h{s}{p} U{s} + b{s}"
    line = f"h{s}{t} = {_applied(argument, _activation(layer))}, h{s}<sub>0</sub> = 0"
    return [line], _recurrent_legend(layer, index)


def _simple_rnn_details(
    layer: Layer, w: Weights, values: Mapping[str, np.ndarray], t: int
) -> dict[str, np.ndarray]:
    units = values["h"].shape[-1]
    columns = {
        "x_t W": nl.dense(values["input"][t], w["kernel"], np.zeros(units)),
        "h_(t-1) U": nl.dense(_previous(values, "h", t), w["recurrent_kernel"], np.zeros(units)),
        "b": w["bias"],
    }
    columns["sum"] = columns["x_t W"] + columns["h_(t-1) U"] + columns["b"]
    columns["h_t"] = nl.ACTIVATIONS[_activation(layer)](columns["sum"])
    return columns


def _lstm_numpy(layer: Layer, w: Weights, x: np.ndarray) -> dict[str, np.ndarray]:
    weights = (w["kernel"], w["recurrent_kernel"], w["bias"])
    h, c = nl.lstm(x, *weights, _activation(layer), dtype=x.dtype.type)
    return {"h": h, "c": c}


def _lstm_equations(layer: Layer, index: int | None, source: str) -> tuple[list[str], str]:
    s, t, p = sup(index), SUB["t"], SUB["t-1"]

    def gate(g: str, function: str) -> str:
        name = "c&#771;" if g == "c" else g
        inner = f"{source} W{s}<sub>{g}</sub> + h{s}{p} U{s}<sub>{g}</sub> + b{s}<sub>{g}</sub>"
        return f"{name}{s}{t} = {function}({inner})"

    act = _activation(layer)
    lines = [gate(g, act if g == "c" else "&sigma;") for g in "ifco"]
    lines += [
        f"c{s}{t} = f{s}{t} &odot; c{s}{p} + i{s}{t} &odot; c&#771;{s}{t}",
        f"h{s}{t} = o{s}{t} &odot; {_applied(f'c{s}{t}', act)}, "
        f"h{s}<sub>0</sub> = c{s}<sub>0</sub> = 0",
    ]
    return lines, _recurrent_legend(layer, index)


def _lstm_details(
    layer: Layer, w: Weights, values: Mapping[str, np.ndarray], t: int
) -> dict[str, np.ndarray]:
    act, sigmoid = nl.ACTIVATIONS[_activation(layer)], nl.ACTIVATIONS["sigmoid"]
    units = values["h"].shape[-1]
    z = nl.dense(values["input"][t], w["kernel"], w["bias"]) + nl.dense(
        _previous(values, "h", t), w["recurrent_kernel"], np.zeros(4 * units)
    )
    i, f, g, o = _split(z, 4)
    columns = {"i_t": sigmoid(i), "f_t": sigmoid(f), "c~_t": act(g), "o_t": sigmoid(o)}
    columns["c_t"] = columns["f_t"] * _previous(values, "c", t) + columns["i_t"] * columns["c~_t"]
    columns["h_t"] = columns["o_t"] * act(columns["c_t"])
    return columns


def _gru_numpy(layer: Layer, w: Weights, x: np.ndarray) -> dict[str, np.ndarray]:
    weights = (w["kernel"], w["recurrent_kernel"], w["bias"])
    return {"h": nl.gru(x, *weights, _activation(layer), dtype=x.dtype.type)}


def _gru_equations(layer: Layer, index: int | None, source: str) -> tuple[list[str], str]:
    s, t, p = sup(index), SUB["t"], SUB["t-1"]
    w, u, b, r = f"W{s}", f"U{s}", f"b{s}", f"b&prime;{s}"

    def gate(g: str) -> str:
        inner = (
            f"{source} {w}<sub>{g}</sub> + {b}<sub>{g}</sub> + h{s}{p} {u}<sub>{g}</sub> "
            f"+ {r}<sub>{g}</sub>"
        )
        return f"{g}{s}{t} = &sigma;({inner})"

    candidate = (
        f"{source} {w}<sub>h</sub> + {b}<sub>h</sub> + r{s}{t} &odot; (h{s}{p} {u}<sub>h</sub>"
        f" + {r}<sub>h</sub>)"
    )
    lines = [
        gate("z"),
        gate("r"),
        f"h&#771;{s}{t} = {_applied(candidate, _activation(layer))}",
        f"h{s}{t} = z{s}{t} &odot; h{s}{p} + (1 &minus; z{s}{t}) &odot; h&#771;{s}{t}, "
        f"h{s}<sub>0</sub> = 0",
    ]
    legend = (
        f"{w} = <code>{layer.name}/kernel</code>, {u} = <code>{layer.name}/recurrent_kernel"
        f"</code>, {b} = row 0 and {r} = row 1 of <code>{layer.name}/bias</code>"
    )
    return lines, legend


def _gru_details(
    layer: Layer, w: Weights, values: Mapping[str, np.ndarray], t: int
) -> dict[str, np.ndarray]:
    act, sigmoid = nl.ACTIVATIONS[_activation(layer)], nl.ACTIVATIONS["sigmoid"]
    previous = _previous(values, "h", t)
    from_input = _split(nl.dense(values["input"][t], w["kernel"], w["bias"][0]), 3)
    from_state = _split(nl.dense(previous, w["recurrent_kernel"], w["bias"][1]), 3)
    columns = {
        "z_t": sigmoid(from_input[0] + from_state[0]),
        "r_t": sigmoid(from_input[1] + from_state[1]),
    }
    columns["h~_t"] = act(from_input[2] + columns["r_t"] * from_state[2])
    columns["h_t"] = columns["z_t"] * previous + (1 - columns["z_t"]) * columns["h~_t"]
    return columns


def _ln_simple_rnn_keras(layer: Layer, stateful: bool, time_distributed: bool) -> Any:
    from forecastlab.cells import LayerNormSimpleRNNCell

    c = layer.config
    cell = LayerNormSimpleRNNCell(c["units"], activation=c["activation"])
    return _keras_layers().RNN(
        cell, name=layer.name, return_sequences=c["return_sequences"], stateful=stateful
    )


def _ln_simple_rnn_numpy(layer: Layer, w: Weights, x: np.ndarray) -> dict[str, np.ndarray]:
    weights = (w["kernel"], w["recurrent_kernel"], w["bias"], w["gamma"], w["beta"])
    return {"h": nl.layer_norm_simple_rnn(x, *weights, _activation(layer), dtype=x.dtype.type)}


# --- per-step and other kinds ------------------------------------------------------------


def _dense_keras(layer: Layer, stateful: bool, time_distributed: bool) -> Any:
    c = layer.config
    return _keras_layers().Dense(c["units"], activation=c["activation"], name=layer.name)


def _time_dense_keras(layer: Layer, stateful: bool, time_distributed: bool) -> Any:
    if not time_distributed:
        return _dense_keras(layer, stateful, time_distributed)
    c = layer.config
    dense = _keras_layers().Dense(c["units"], activation=c["activation"])
    return _keras_layers().TimeDistributed(dense, name=layer.name)


def _dense_numpy(layer: Layer, w: Weights, x: np.ndarray) -> dict[str, np.ndarray]:
    return {"h": nl.dense(x, w["kernel"], w["bias"], str(layer.config["activation"]))}


def _dense_equations(layer: Layer, index: int | None, source: str) -> tuple[list[str], str]:
    line = f"y{SUB['t']} = {_applied(f'{source} V + c', _activation(layer))}"
    return [line], f"V = <code>{layer.name}/kernel</code>, c = <code>{layer.name}/bias</code>"


def _dense_details(
    layer: Layer, w: Weights, values: Mapping[str, np.ndarray], t: int
) -> dict[str, np.ndarray]:
    columns = {"x_t V + c": nl.dense(values["input"][t], w["kernel"], w["bias"])}
    columns["y_t"] = nl.ACTIVATIONS[_activation(layer)](columns["x_t V + c"])
    return columns


def _conv1d_numpy(layer: Layer, w: Weights, x: np.ndarray) -> dict[str, np.ndarray]:
    c = layer.config
    h = nl.conv1d(
        x,
        w["kernel"],
        w["bias"],
        strides=int(c["strides"]),
        padding=str(c["padding"]),
        dilation_rate=int(c["dilation_rate"]),
        activation=str(c["activation"]),
        dtype=x.dtype.type,
    )
    return {"h": h}


def _dropout_equations(layer: Layer, index: int | None, source: str) -> tuple[list[str], str]:
    return [f"{source} passes through {layer.name} unchanged (no dropout when predicting)"], ""


def _dropout_details(
    layer: Layer, w: Weights, values: Mapping[str, np.ndarray], t: int
) -> dict[str, np.ndarray]:
    return {"h_t": values["h"][t]}


def _batch_norm_numpy(layer: Layer, w: Weights, x: np.ndarray) -> dict[str, np.ndarray]:
    statistics = (w["gamma"], w["beta"], w["moving_mean"], w["moving_variance"])
    return {"h": nl.batch_norm(x, *statistics)}


def _crop_numpy(layer: Layer, w: Weights, x: np.ndarray) -> dict[str, np.ndarray]:
    return {"h": x[:, layer.config["start"] : x.shape[1] - layer.config["end"]]}


def _repeat_numpy(layer: Layer, w: Weights, x: np.ndarray) -> dict[str, np.ndarray]:
    return {"h": np.repeat(x[:, None, :], layer.config["times"], axis=1)}


# What a Dense layer is, applied once or at every step alike.
DENSE: dict[str, Any] = {
    "numpy": _dense_numpy,
    "symbol": "y",
    "weight_meanings": DENSE_MEANINGS,
    "equations": _dense_equations,
    "details": _dense_details,
}

LAYER_KINDS: dict[str, LayerKind] = {
    "simple_rnn": LayerKind(
        keras=_recurrent_keras("SimpleRNN"),
        numpy=_simple_rnn_numpy,
        stack_name="RNN",
        weight_meanings=RECURRENT_MEANINGS,
        equations=_simple_rnn_equations,
        details=_simple_rnn_details,
    ),
    "lstm": LayerKind(
        keras=_recurrent_keras("LSTM"),
        numpy=_lstm_numpy,
        stack_name="LSTM",
        compared=("h", "c"),
        weight_meanings=RECURRENT_MEANINGS,
        gates=("i (input gate)", "f (forget gate)", "c (cell candidate)", "o (output gate)"),
        equations=_lstm_equations,
        equations_note=(
            "W<sub>i</sub>, W<sub>f</sub>, W<sub>c</sub>, W<sub>o</sub> are the kernel's "
            "column blocks in Keras's order i, f, c, o (U and b are split likewise); "
            "&sigma; is the sigmoid."
        ),
        details=_lstm_details,
    ),
    "gru": LayerKind(
        keras=_recurrent_keras("GRU"),
        numpy=_gru_numpy,
        stack_name="GRU",
        weight_meanings=RECURRENT_MEANINGS,
        gates=("z (update gate)", "r (reset gate)", "h (candidate)"),
        gate_rows={"bias": "row 0 input bias, row 1 recurrent bias (reset_after=True)"},
        equations=_gru_equations,
        equations_note=(
            "W<sub>z</sub>, W<sub>r</sub>, W<sub>h</sub> are the kernel's column blocks in "
            "Keras's order z, r, h (U, b and b&prime; likewise): with reset_after=True "
            "(Keras 3's default) the bias has two rows, the input bias b and the recurrent "
            "bias b&prime;, and r multiplies the recurrent product after U."
        ),
        details=_gru_details,
    ),
    "ln_simple_rnn": LayerKind(
        keras=_ln_simple_rnn_keras,
        numpy=_ln_simple_rnn_numpy,
        stack_name="LNRNN",
        weight_meanings=RECURRENT_MEANINGS,
    ),
    "dense": LayerKind(keras=_dense_keras, **DENSE),
    # The same Dense at every step: TimeDistributed, as the tutorials build it.
    "time_dense": LayerKind(keras=_time_dense_keras, **DENSE),
    "conv1d": LayerKind(
        keras=lambda layer, stateful, time_distributed: _keras_layers().Conv1D(
            name=layer.name, **layer.config
        ),
        numpy=_conv1d_numpy,
    ),
    "flatten": LayerKind(
        keras=lambda layer, stateful, time_distributed: _keras_layers().Flatten(name=layer.name),
        numpy=lambda layer, w, x: {"h": nl.flatten(x)},
    ),
    "dropout": LayerKind(
        keras=lambda layer, stateful, time_distributed: _keras_layers().Dropout(
            layer.config["rate"], name=layer.name
        ),
        numpy=lambda layer, w, x: {"h": nl.dropout(x)},
        equations=_dropout_equations,
        details=_dropout_details,
        training_only=True,
    ),
    "batch_norm": LayerKind(
        keras=lambda layer, stateful, time_distributed: _keras_layers().BatchNormalization(
            name=layer.name
        ),
        numpy=_batch_norm_numpy,
    ),
    # A slice of the sequence's steps: `start` dropped at the front, `end` at the back.
    "crop": LayerKind(
        keras=lambda layer, stateful, time_distributed: _keras_layers().Cropping1D(
            (layer.config["start"], layer.config["end"]), name=layer.name
        ),
        numpy=_crop_numpy,
    ),
    "repeat": LayerKind(
        keras=lambda layer, stateful, time_distributed: _keras_layers().RepeatVector(
            layer.config["times"], name=layer.name
        ),
        numpy=_repeat_numpy,
    ),
}


def layer_kind(kind: str) -> LayerKind:
    """The registry entry of `kind`, or a KeyError listing the known kinds."""
    if kind not in LAYER_KINDS:
        raise KeyError(f"unknown layer kind {kind!r}; known: {', '.join(sorted(LAYER_KINDS))}")
    return LAYER_KINDS[kind]
