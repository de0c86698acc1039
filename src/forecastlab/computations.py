"""The fifth tutorial's "understanding computations", carried out on the pipeline's models.

For each part of the tutorial (A: TimeDistributed Dense, B: SimpleRNN, C: SimpleRNN with
two hidden layers, D: LSTM, E: GRU) a trained model is chosen by its plan
(`forecastlab.architectures.plan`), and its inputs, definition, weights and first steps
are laid out as tables: the numpy passes of `forecastlab.handcheck` beside Keras's values.
Two demos rebuild the second and fourth tutorials' small examples with seeded weights.

Keras is imported inside the functions that need it, after `quiet_tensorflow`, so that
importing this module (which imports `forecastlab` first, pinning the numerics) starts no
TensorFlow and prints nothing. Every comparison table has the columns `by hand`, `Keras`
and `|difference|` (COMPARISON_COLUMNS).
"""

from __future__ import annotations

import html
import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecastlab import handcheck
from forecastlab.architectures import RECURRENT_KINDS, Layer, architecture, plan, target_steps
from forecastlab.io import read_json, read_npz
from forecastlab.layout import run_name, windows_file
from forecastlab.windows import horizon_of

HAND, KERAS, DIFFERENCE = "by hand", "Keras", "|difference|"
COMPARISON_COLUMNS = (HAND, KERAS, DIFFERENCE)
HEADINGS = (
    "Inputs and outputs for this section",
    "Model definition and training",
    "Understanding the weights",
    "Understanding the computations",
)
PART_TITLES = {
    "A": "Explanation of the TimeDistributed component",
    "B": "Explanation of simple RNN",
    "C": "Explanation of simple RNN with two hidden layers",
    "D": "Explanation of LSTM",
    "E": "Explanation of GRU",
}
# The layer kinds a part's model may hold besides its own: an output head, and dropout
# (the identity at prediction time). Conv1D, batch or layer normalization would need
# computations of their own, which the part does not explain.
HEAD_KINDS = ("dense", "time_dense", "dropout")
PART_KINDS = {"A": "time_dense", "B": "simple_rnn", "C": "simple_rnn", "D": "lstm", "E": "gru"}
# The tutorial's X_batch: 3 instances, 2 time steps, 4 inputs (the numbers 0 to 9).
X_BATCH = np.array(
    [
        [[0, 1, 2, 5], [9, 8, 7, 4]],
        [[3, 4, 5, 2], [0, 0, 0, 0]],
        [[6, 7, 8, 5], [6, 5, 4, 2]],
    ],
    dtype=np.float32,
)
SUB = {"t": "<sub>t</sub>", "t-1": "<sub>t&minus;1</sub>"}


class Html(str):
    """A piece of HTML that Jupyter displays as such (text/html)."""

    def _repr_html_(self) -> str:
        return str(self)


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ and absl logs and Keras's Python warnings out of a report:
    call before Keras is first imported (the C++ log level is read then)."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", module="tensorflow")


def _keras():
    quiet_tensorflow()
    import keras

    return keras


# --- choosing a model per part ---------------------------------------------------------


def part_matches(part: str, layers: Sequence[Layer]) -> bool:
    """Whether a plan is one part A-E explains: A a per-step Dense only; B exactly one
    SimpleRNN layer; C exactly two; D LSTM layers; E GRU layers (so no Conv1D). Besides
    the part's own layers only an output head and dropout may appear (HEAD_KINDS)."""
    kinds = [layer.kind for layer in layers]
    if part == "A":
        return kinds == ["time_dense"]
    own = PART_KINDS[part]
    if any(kind not in (own, *HEAD_KINDS) for kind in kinds):
        return False
    count = kinds.count(own)
    return {"B": count == 1, "C": count == 2}.get(part, count >= 1)


def _rank(part: str, run: Mapping[str, Any], layers: Sequence[Layer]) -> tuple:
    """Smaller is preferred: window-trained over statefully trained; no dropout; for
    LSTM and GRU the deeper stack (it shows how layers feed one another, as part C does);
    then the params order."""
    stateful = architecture(run["arch"]).stateful_training
    dropout = any(layer.kind == "dropout" for layer in layers)
    depth = sum(layer.kind == PART_KINDS[part] for layer in layers)
    return (stateful, dropout, -depth if part in ("D", "E") else 0)


def choose_runs(runs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """Part letter -> the run it explains (as `forecastlab.layout.runs_of` lists them; a
    model's first seed) or None when no trained model has a plan the part explains (see
    part_matches, _rank)."""
    chosen: dict[str, dict[str, Any] | None] = {}
    for part in PART_TITLES:
        fitting = []
        for order, run in enumerate(runs):
            if not architecture(run["arch"]).trained or run["seed"] != run["seeds"][0]:
                continue
            layers = plan(run["arch"], run["hyperparams"], run["window"])
            if part_matches(part, layers):
                fitting.append((_rank(part, run, layers), order, run))
        chosen[part] = dict(min(fitting, key=lambda item: item[:2])[2]) if fitting else None
    return chosen


def choice_table(chosen: Mapping[str, Mapping[str, Any] | None]) -> pd.DataFrame:
    """One row per part: its title and the model it uses (study/wL/arch/seedN) or none."""
    return pd.DataFrame(
        [
            {
                "part": part,
                "title": PART_TITLES[part],
                "model": run_name(run["study"], run["window"], run["arch"], run["seed"])
                if run
                else "none",
                "layers": " + ".join(
                    f"{layer.name} ({layer.kind})"
                    for layer in plan(run["arch"], run["hyperparams"], run["window"])
                )
                if run
                else "",
            }
            for part, run in chosen.items()
        ]
    )


# --- one trained model -----------------------------------------------------------------


@dataclass
class Case:
    """One trained model as a part explains it.

    window: the first test window (1, L, 1) in float64; layers: its per-step twin's plan;
    weights: `layer/variable` -> array as Keras stores them; model: the loaded Keras model.
    """

    part: str
    run: dict[str, Any]
    name: str
    horizon: int
    windows: dict[str, np.ndarray]
    window: np.ndarray
    layers: list[Layer]
    weights: dict[str, np.ndarray]
    history: dict[str, Any]
    model: Any = field(repr=False)


def load_case(part: str, run: Mapping[str, Any]) -> Case:
    """Read a run's windows, weights, history and saved model (paths relative to the
    working directory, the repository root)."""
    from forecastlab.models import load_model

    _keras()
    windows = read_npz(windows_file(run["study"], run["window"]))
    horizon = horizon_of(windows)
    return Case(
        part=part,
        run=dict(run),
        name=run_name(run["study"], run["window"], run["arch"], run["seed"]),
        horizon=horizon,
        windows=windows,
        window=np.asarray(windows["test_inputs"][:1], dtype=np.float64),
        layers=plan(run["arch"], run["hyperparams"], run["window"], horizon, sequences=True),
        weights=read_npz(run["weights"]),
        history=read_json(run["history"]),
        model=load_model(run["model"]),
    )


def _shape(shape: Any) -> str:
    return str(tuple(None if s is None else int(s) for s in shape))


def inputs_outputs(case: Case) -> pd.DataFrame:
    """The arrays the part reads and what the model makes of them, with their shapes:
    the test inputs (n, L, 1), the first window (1, L, 1), the targets and outputs."""
    target = case.run["hyperparams"].get("target", "next")
    from forecastlab.windows import model_targets

    steps = target_steps(case.run["arch"], case.run["hyperparams"])
    targets = model_targets(case.windows, "test", target, steps)
    predicted = case.model.predict(case.window.astype(np.float32), verbose=0)
    rows = [
        ("test inputs", _shape(case.windows["test_inputs"].shape), "every test window"),
        ("x", _shape(case.window.shape), "the first test window, used below"),
        (f"test targets ({target})", _shape(targets.shape), "what the model learnt to forecast"),
        ("model output", _shape(case.model.output_shape), "Keras's output shape (batch None)"),
        ("y = model.predict(x)", _shape(predicted.shape), "the saved model on the first window"),
    ]
    return pd.DataFrame(rows, columns=["array", "shape", "meaning"])


def window_values(case: Case, steps: int = 3) -> pd.DataFrame:
    """The first `steps` inputs x_t of the first test window and their targets."""
    shown = min(steps, case.window.shape[1])
    return pd.DataFrame({"t": np.arange(1, shown + 1), "x_t": case.window[0, :shown, 0]}).set_index(
        "t"
    )


def model_layers(case: Case) -> pd.DataFrame:
    """The saved model's layers: name, Keras class (and wrapped class), output shape,
    parameter count; a last row totals the parameters."""
    rows = []
    for layer in case.model.layers:
        kind = type(layer).__name__
        if hasattr(layer, "layer"):
            kind += f"({type(layer.layer).__name__})"
        rows.append(
            {
                "layer": layer.name,
                "Keras class": kind,
                "output shape": _shape(layer.output.shape),
                "parameters": int(layer.count_params()),
            }
        )
    rows.append(
        {
            "layer": "total",
            "Keras class": "",
            "output shape": "",
            "parameters": int(case.model.count_params()),
        }
    )
    return pd.DataFrame(rows)


def training_settings(case: Case) -> pd.DataFrame:
    """How the model was trained (its hyperparameters) and its final loss (history.json)."""
    hp = case.run["hyperparams"]
    history = case.history.get("history", {})
    final = case.history.get("final_loss", history.get("loss", [np.nan])[-1])
    rows = [
        ("optimizer", hp.get("optimizer", "")),
        ("learning rate", hp.get("learning_rate", "")),
        ("batch size", hp.get("batch_size", "")),
        ("epochs", hp.get("epochs", "")),
        ("loss", hp.get("loss", "mse")),
        ("target", hp.get("target", "next")),
        ("epochs recorded", len(history.get("loss", []))),
        ("final loss", f"{float(final):.8g}"),
    ]
    if "final_val_loss" in case.history:
        rows.append(("final val_loss", f"{float(case.history['final_val_loss']):.8g}"))
    return pd.DataFrame([(k, str(v)) for k, v in rows], columns=["setting", "value"])


def _gate_blocks(kind: str, units: int, variable: str) -> str:
    """What the columns (or rows) of a recurrent weight hold, in Keras's gate order."""
    if kind == "lstm":
        blocks = ("i (input gate)", "f (forget gate)", "c (cell candidate)", "o (output gate)")
    elif kind == "gru":
        blocks = ("z (update gate)", "r (reset gate)", "h (candidate)")
    else:
        return ""
    spans = ", ".join(f"{k * units}-{(k + 1) * units - 1}: {name}" for k, name in enumerate(blocks))
    if kind == "gru" and variable == "bias":
        return f"row 0 input bias, row 1 recurrent bias (reset_after=True); columns {spans}"
    return f"columns {spans}"


WEIGHT_MEANING = {
    "kernel": "input weights W (inputs x units)",
    "recurrent_kernel": "recurrent weights U (units x units)",
    "bias": "bias b",
}


def weights_table(case: Case) -> pd.DataFrame:
    """Every weight as Keras stores it (`RNN/kernel` (1, 20) ...): key, shape, role and,
    for LSTM and GRU, which columns hold which gate."""
    kinds = {layer.name: layer for layer in case.layers}
    rows = []
    for key, value in case.weights.items():
        layer_name, variable = key.split("/", 1)
        layer = kinds.get(layer_name)
        meaning = WEIGHT_MEANING.get(variable, variable)
        if layer is not None and layer.kind in ("dense", "time_dense"):
            meaning = {"kernel": "output weights V (inputs x outputs)", "bias": "output bias c"}[
                variable
            ]
        blocks = _gate_blocks(layer.kind, int(layer.config["units"]), variable) if layer else ""
        rows.append(
            {
                "weight": key,
                "shape": _shape(value.shape),
                "scalars": int(value.size),
                "meaning": meaning,
                "gate blocks": blocks,
            }
        )
    return pd.DataFrame(rows)


def weight_values(case: Case, key: str, limit: int = 8) -> pd.DataFrame:
    """The first `limit` rows and columns of one weight, as a matrix (a vector: one row)."""
    value = np.atleast_2d(case.weights[key])[:limit, :limit]
    return pd.DataFrame(value, columns=[f"col {j}" for j in range(value.shape[1])])


# --- equations -------------------------------------------------------------------------


def _sup(index: int | None) -> str:
    return f"<sup>({index})</sup>" if index is not None else ""


def _layer_equations(layer: Layer, index: int | None, source: str) -> tuple[list[str], str]:
    """The equations of one layer at step t reading `source`, and the legend naming its
    symbols' Keras weights (index: the layer's number in a stack, None alone)."""
    act = str(layer.config.get("activation", "linear"))
    s, t, p = _sup(index), SUB["t"], SUB["t-1"]
    w, u, b = f"W{s}", f"U{s}", f"b{s}"
    h, hp = f"h{s}{t}", f"h{s}{p}"
    legend = (
        f"{w} = <code>{layer.name}/kernel</code>, {u} = <code>{layer.name}/recurrent_kernel"
        f"</code>, {b} = <code>{layer.name}/bias</code>"
    )

    def applied(argument: str, function: str = act) -> str:
        return argument if function == "linear" else f"{function}({argument})"

    if layer.kind in ("dense", "time_dense"):
        legend = f"V = <code>{layer.name}/kernel</code>, c = <code>{layer.name}/bias</code>"
        return [f"y{t} = {applied(f'{source} V + c')}"], legend
    if layer.kind == "dropout":
        return [f"{source} passes through {layer.name} unchanged (no dropout when predicting)"], ""
    if layer.kind == "simple_rnn":
        return [f"{h} = {applied(f'{source} {w} + {hp} {u} + {b}')}, h{s}<sub>0</sub> = 0"], legend
    if layer.kind == "lstm":
        c, cp = f"c{s}{t}", f"c{s}{p}"

        def gate(g: str, function: str) -> str:
            name = "c&#771;" if g == "c" else g
            inner = f"{source} {w}<sub>{g}</sub> + {hp} {u}<sub>{g}</sub> + {b}<sub>{g}</sub>"
            return f"{name}{s}{t} = {function}({inner})"

        lines = [gate(g, act if g == "c" else "&sigma;") for g in "ifco"]
        lines += [
            f"{c} = f{s}{t} &odot; {cp} + i{s}{t} &odot; c&#771;{s}{t}",
            f"{h} = o{s}{t} &odot; {applied(c)}, h{s}<sub>0</sub> = c{s}<sub>0</sub> = 0",
        ]
        return lines, legend
    if layer.kind == "gru":
        r = f"b&prime;{s}"

        def gate(g: str) -> str:
            inner = (
                f"{source} {w}<sub>{g}</sub> + {b}<sub>{g}</sub> + {hp} {u}<sub>{g}</sub> "
                f"+ {r}<sub>{g}</sub>"
            )
            return f"{g}{s}{t} = &sigma;({inner})"

        candidate = (
            f"{source} {w}<sub>h</sub> + {b}<sub>h</sub> + r{s}{t} &odot; ({hp} {u}<sub>h</sub>"
            f" + {r}<sub>h</sub>)"
        )
        lines = [
            gate("z"),
            gate("r"),
            f"h&#771;{s}{t} = {applied(candidate)}",
            f"{h} = z{s}{t} &odot; {hp} + (1 &minus; z{s}{t}) &odot; h&#771;{s}{t}, "
            f"h{s}<sub>0</sub> = 0",
        ]
        legend = (
            f"{w} = <code>{layer.name}/kernel</code>, {u} = <code>{layer.name}/recurrent_kernel"
            f"</code>, {b} = row 0 and {r} = row 1 of <code>{layer.name}/bias</code>"
        )
        return lines, legend
    raise ValueError(f"no equations for layer kind {layer.kind!r}")


def equations(case: Case) -> Html:
    """The model's computations at step t as HTML (<sub>, <sup>, no LaTeX): each layer
    reads the previous one's output at the same step; &sigma; is the sigmoid, &odot; the
    elementwise product, vectors are rows (x W as Keras computes it)."""
    recurrent = [layer for layer in case.layers if layer.kind in RECURRENT_KINDS]
    lines, legends, source, index = [], [], f"x{SUB['t']}", 0
    for layer in case.layers:
        number = None
        if layer.kind in RECURRENT_KINDS:
            index += 1
            number = index if len(recurrent) > 1 else None
        layer_lines, legend = _layer_equations(layer, number, source)
        lines += layer_lines
        legends += [legend] if legend else []
        if layer.kind in RECURRENT_KINDS:
            source = f"h{_sup(number)}{SUB['t']}"
    notes = ["Weights: " + "; ".join(legends) + "."]
    if any(layer.kind == "lstm" for layer in case.layers):
        notes.append(
            "W<sub>i</sub>, W<sub>f</sub>, W<sub>c</sub>, W<sub>o</sub> are the kernel's "
            "column blocks in Keras's order i, f, c, o (U and b are split likewise); "
            "&sigma; is the sigmoid."
        )
    if any(layer.kind == "gru" for layer in case.layers):
        notes.append(
            "W<sub>z</sub>, W<sub>r</sub>, W<sub>h</sub> are the kernel's column blocks in "
            "Keras's order z, r, h (U, b and b&prime; likewise): with reset_after=True "
            "(Keras 3's default) the bias has two rows, the input bias b and the recurrent "
            "bias b&prime;, and r multiplies the recurrent product after U."
        )
    body = "".join(f"<li>{line}</li>" for line in lines)
    return Html(f"<ul>{body}</ul>" + "".join(f"<p>{note}</p>" for note in notes))


# --- step-by-step computations ---------------------------------------------------------


@dataclass
class Computation:
    """A model's first steps by hand and by Keras.

    details: (title, table) of each layer's intermediate values by hand (gates,
    pre-activations); comparison: the values beside Keras's (COMPARISON_COLUMNS);
    max_difference: the largest |difference| over every unit and output of those steps;
    max_excess: the largest |difference| - rtol * |Keras|, held to atol as the verify
    rule holds it (numpy's allclose).
    """

    details: list[tuple[str, pd.DataFrame]]
    comparison: pd.DataFrame
    max_difference: float
    n_compared: int
    max_excess: float


def _layer_weights(weights: Mapping[str, np.ndarray], name: str) -> dict[str, np.ndarray]:
    prefix = f"{name}/"
    return {
        key[len(prefix) :]: np.asarray(value, np.float64)
        for key, value in weights.items()
        if key.startswith(prefix)
    }


def hand_layers(
    layers: Sequence[Layer], weights: Mapping[str, np.ndarray], x: np.ndarray
) -> dict[str, dict[str, np.ndarray]]:
    """Every layer's per-step output by hand (forecastlab.handcheck), in float64:
    layer name -> {"input": (n, T, d), "h": (n, T, units)} and "c" for LSTM."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for layer in layers:
        w = _layer_weights(weights, layer.name)
        act = str(layer.config.get("activation", "linear"))
        values: dict[str, np.ndarray] = {"input": x}
        if layer.kind == "simple_rnn":
            values["h"] = handcheck.simple_rnn(
                x, w["kernel"], w["recurrent_kernel"], w["bias"], act
            )
        elif layer.kind == "lstm":
            values["h"], values["c"] = handcheck.lstm(
                x, w["kernel"], w["recurrent_kernel"], w["bias"], act
            )
        elif layer.kind == "gru":
            values["h"] = handcheck.gru(x, w["kernel"], w["recurrent_kernel"], w["bias"], act)
        elif layer.kind in ("dense", "time_dense"):
            values["h"] = handcheck.dense(x, w["kernel"], w["bias"], act)
        elif layer.kind == "dropout":
            values["h"] = handcheck.dropout(x)
        else:
            raise ValueError(f"no step-by-step computation for layer kind {layer.kind!r}")
        out[layer.name] = values
        x = values["h"]
    return out


def keras_layers(
    model: Any, layers: Sequence[Layer], x: np.ndarray, steps: int
) -> dict[str, dict[str, np.ndarray]]:
    """Keras's per-step output of every layer of `model` (a per-step twin, the layers
    named as in `layers`) on x (1, T, 1): layer name -> {"h": (1, T, units)}, and for
    LSTM "c" (1, steps, units) from Keras's own cell called step by step from zero."""
    keras = _keras()
    probe = keras.Model(model.inputs, [model.get_layer(layer.name).output for layer in layers])
    predicted = probe.predict(x.astype(np.float32), verbose=0)
    if not isinstance(predicted, list):
        predicted = [predicted]
    out = {
        layer.name: {"h": np.asarray(value, np.float64)}
        for layer, value in zip(layers, predicted, strict=True)
    }
    source = x.astype(np.float32)
    for layer, value in zip(layers, predicted, strict=True):
        if layer.kind == "lstm":
            cell = model.get_layer(layer.name).cell
            units = int(layer.config["units"])
            state = [np.zeros((1, units), np.float32), np.zeros((1, units), np.float32)]
            cells = []
            for t in range(steps):
                _, state = cell(source[:, t], state)
                cells.append(np.asarray(state[1], np.float64))
            out[layer.name]["c"] = np.stack(cells, axis=1)
        source = np.asarray(value, np.float32)
    return out


def per_step_twin(case: Case) -> Any:
    """The saved model's weights in the twin that returns every step's values
    (forecastlab.models.build_model(..., return_sequences=True) + copy_weights)."""
    from forecastlab.models import build_model, copy_weights

    hp, length = case.run["hyperparams"], case.run["window"]
    twin = build_model(case.run["arch"], hp, length, horizon=case.horizon, return_sequences=True)
    return copy_weights(case.model, twin)


def _split(values: np.ndarray, blocks: int) -> list[np.ndarray]:
    units = values.shape[-1] // blocks
    return [values[..., k * units : (k + 1) * units] for k in range(blocks)]


def _details(
    layer: Layer, w: Mapping[str, np.ndarray], values: Mapping[str, np.ndarray], steps: int
) -> pd.DataFrame:
    """One layer's intermediate values at steps 1..steps by hand, first instance: what the
    equations give before the compared output (pre-activations, gates)."""
    x, h = values["input"][0], values["h"][0]
    act = handcheck.ACTIVATIONS[str(layer.config.get("activation", "linear"))]
    sigmoid = handcheck.ACTIVATIONS["sigmoid"]
    units = h.shape[-1]
    rows = []
    for t in range(steps):
        previous = h[t - 1] if t else np.zeros(units)
        columns: dict[str, np.ndarray] = {}
        if layer.kind in ("dense", "time_dense"):
            columns["x_t V + c"] = handcheck.dense(x[t], w["kernel"], w["bias"])
            columns["y_t"] = act(columns["x_t V + c"])
        elif layer.kind == "simple_rnn":
            columns["x_t W"] = handcheck.dense(x[t], w["kernel"], np.zeros(units))
            columns["h_(t-1) U"] = handcheck.dense(previous, w["recurrent_kernel"], np.zeros(units))
            columns["b"] = w["bias"]
            columns["sum"] = columns["x_t W"] + columns["h_(t-1) U"] + columns["b"]
            columns["h_t"] = act(columns["sum"])
        elif layer.kind == "lstm":
            z = handcheck.dense(x[t], w["kernel"], w["bias"]) + handcheck.dense(
                previous, w["recurrent_kernel"], np.zeros(4 * units)
            )
            i, f, g, o = _split(z, 4)
            c_previous = values["c"][0, t - 1] if t else np.zeros(units)
            columns |= {"i_t": sigmoid(i), "f_t": sigmoid(f), "c~_t": act(g), "o_t": sigmoid(o)}
            columns["c_t"] = columns["f_t"] * c_previous + columns["i_t"] * columns["c~_t"]
            columns["h_t"] = columns["o_t"] * act(columns["c_t"])
        elif layer.kind == "gru":
            from_input = _split(handcheck.dense(x[t], w["kernel"], w["bias"][0]), 3)
            from_state = _split(handcheck.dense(previous, w["recurrent_kernel"], w["bias"][1]), 3)
            columns["z_t"] = sigmoid(from_input[0] + from_state[0])
            columns["r_t"] = sigmoid(from_input[1] + from_state[1])
            columns["h~_t"] = act(from_input[2] + columns["r_t"] * from_state[2])
            columns["h_t"] = columns["z_t"] * previous + (1 - columns["z_t"]) * columns["h~_t"]
        else:  # dropout: the identity
            columns["h_t"] = h[t]
        for unit in range(columns[next(iter(columns))].shape[-1]):
            rows.append(
                {"t": t + 1, "unit": unit, **{k: float(v[unit]) for k, v in columns.items()}}
            )
    return pd.DataFrame(rows)


def compute_steps(case: Case, steps: int = 3, units: int = 4, rtol: float = 0.0) -> Computation:
    """The first `steps` steps of the first test window by hand (forecastlab.handcheck
    on the saved weights, float64) beside Keras's per-step twin of the saved model.

    The comparison shows the first `units` units (or outputs) of each layer per step;
    max_difference covers all of them. The final output by hand is also checked against
    handcheck.forward, the pass the verify rule runs.
    """
    shown = min(steps, case.window.shape[1])
    hand = hand_layers(case.layers, case.weights, case.window)
    keras_values = keras_layers(per_step_twin(case), case.layers, case.window, shown)
    forward, _ = handcheck.forward(
        case.run["arch"], case.run["hyperparams"], case.weights, case.window, case.horizon, True
    )
    last = case.layers[-1].name
    if not np.allclose(forward, hand[last]["h"], atol=1e-12):
        raise AssertionError("the layer-by-layer pass disagrees with handcheck.forward")
    details, rows, worst, excess, compared = [], [], 0.0, -np.inf, 0
    for layer in case.layers:
        w = _layer_weights(case.weights, layer.name)
        title = f"{layer.name} ({layer.kind}), by hand, first {shown} steps"
        details.append((title, _details(layer, w, hand[layer.name], shown)))
        quantity_names = ("h", "c") if layer.kind == "lstm" else ("h",)
        for quantity in quantity_names:
            mine = hand[layer.name][quantity][0, :shown]
            theirs = keras_values[layer.name][quantity][0, :shown]
            difference = np.abs(mine - theirs)
            worst = max(worst, float(difference.max()))
            excess = max(excess, float((difference - rtol * np.abs(theirs)).max()))
            compared += difference.size
            label = "y" if layer.kind in ("dense", "time_dense") else quantity
            for t in range(shown):
                for unit in range(min(units, mine.shape[-1])):
                    rows.append(
                        {
                            "t": t + 1,
                            "layer": layer.name,
                            "value": f"{label}_t[{unit}]",
                            HAND: float(mine[t, unit]),
                            KERAS: float(theirs[t, unit]),
                            DIFFERENCE: float(difference[t, unit]),
                        }
                    )
    comparison = pd.DataFrame(rows).sort_values(["t"], kind="stable").reset_index(drop=True)
    return Computation(details, comparison, worst, compared, excess)


def verdict(
    max_difference: float,
    atol: float,
    n_compared: int | None = None,
    rtol: float = 0.0,
    max_excess: float | None = None,
) -> Html:
    """One sentence: the largest difference against the tolerance atol + rtol * |Keras|
    (max_excess: the largest |difference| - rtol * |Keras|; max_difference without
    rtol), passed or failed."""
    passed = (max_difference if max_excess is None else max_excess) <= atol
    over = f" over {n_compared} values" if n_compared is not None else ""
    bound = f"atol {atol:.1e}" + (f" + rtol {rtol:.1e} &times; |Keras|" if rtol else "")
    return Html(
        f"<p><b>Largest |difference|{over}: {max_difference:.3e} against {bound}: "
        f"{'passed' if passed else 'FAILED'}.</b></p>"
    )


# --- display ---------------------------------------------------------------------------


def styled(table: pd.DataFrame, digits: int = 8) -> Any:
    """A table for display: floats to `digits` significant digits, differences in
    scientific notation, a missing value as a dash, no index."""
    formats = {
        column: ("{:.2e}" if "difference" in column else f"{{:.{digits}g}}")
        for column in table.columns
        if pd.api.types.is_float_dtype(table[column])
    }
    return table.style.format(formats, na_rep="—").hide(axis="index")


def text(paragraph: str) -> Html:
    """A paragraph of text (escaped), for display."""
    return Html(f"<p>{html.escape(paragraph)}</p>")


def heading(title: str, level: int = 4) -> Html:
    return Html(f"<h{level}>{html.escape(title)}</h{level}>")


@dataclass
class PartReport:
    """What each of a part's four subsections shows (displayable objects, in order);
    intro says which model the part uses, or in one sentence that none fits."""

    part: str
    intro: list[Any]
    inputs: list[Any] = field(default_factory=list)
    definition: list[Any] = field(default_factory=list)
    weights: list[Any] = field(default_factory=list)
    computations: list[Any] = field(default_factory=list)
    max_difference: float | None = None
    passed: bool | None = None


def part_report(
    part: str,
    run: Mapping[str, Any] | None,
    atol: float,
    rtol: float = 0.0,
    steps: int = 3,
    units: int = 4,
) -> PartReport:
    """The four subsections of one part (A-E) for its chosen run (choose_runs), or only
    an intro sentence when the params have no model for it. A value passes within
    atol + rtol * |Keras| (params.yaml's verification)."""
    if run is None:
        return PartReport(
            part, [text(f"No model in these params has a plan that part {part} explains.")]
        )
    case = load_case(part, run)
    hp = case.run["hyperparams"]
    intro = [
        text(
            f"This part uses the trained model {case.name} (study {case.run['study']}, "
            f"windows of {case.run['window']} steps, architecture {case.run['arch']}), "
            f"with the weights it was trained to; its target is {hp.get('target', 'next')}."
        )
    ]
    computation = compute_steps(case, steps, units, rtol)
    passed = computation.max_excess <= atol
    shown = min(steps, case.window.shape[1])
    inputs = [
        styled(inputs_outputs(case)),
        text(f"The first {shown} inputs x_t of the first test window:"),
        styled(window_values(case, steps).reset_index()),
    ]
    keep = (
        ""
        if case.model.output_shape[1:-1]
        else (
            " The saved model keeps only the last step; the per-step twin below (the same "
            "weights, build_model(..., return_sequences=True)) gives every step."
        )
    )
    definition = [
        styled(model_layers(case)),
        *([text(keep.strip())] if keep else []),
        text("Training:"),
        styled(training_settings(case)),
    ]
    weights = [styled(weights_table(case))]
    for key in case.weights:
        weights += [heading(f"{key}, first rows and columns"), styled(weight_values(case, key))]
    computations = [equations(case)]
    for title, table in computation.details:
        computations += [heading(title), styled(table)]
    computations += [
        heading(f"By hand against Keras, first {shown} steps (first {units} units shown)"),
        styled(computation.comparison),
        verdict(
            computation.max_difference, atol, computation.n_compared, rtol, computation.max_excess
        ),
    ]
    return PartReport(
        part,
        intro,
        inputs,
        definition,
        weights,
        computations,
        computation.max_difference,
        passed,
    )


def summary_table(reports: Sequence[PartReport], atol: float, rtol: float = 0.0) -> pd.DataFrame:
    """Per part: the largest |difference| and passed/failed against atol + rtol * |Keras|."""
    return pd.DataFrame(
        [
            {
                "part": r.part,
                "largest |difference|": np.nan if r.max_difference is None else r.max_difference,
                "atol": atol,
                "rtol": rtol,
                "result": "no model" if r.passed is None else ("passed" if r.passed else "FAILED"),
            }
            for r in reports
        ]
    )


# --- demos -----------------------------------------------------------------------------


def _rnn_model(
    units: int,
    inputs: tuple[int, ...],
    activation: str,
    dense: bool,
    stateful: bool = False,
    batch_size: int | None = None,
    return_state: bool = False,
) -> Any:
    keras = _keras()
    x = keras.Input(shape=inputs, batch_size=batch_size, name="x")
    rnn = keras.layers.SimpleRNN(
        units,
        activation=activation,
        return_sequences=True,
        return_state=return_state,
        stateful=stateful,
        name="RNN",
    )(x)
    outputs = rnn
    if dense:
        outputs = keras.layers.Dense(1, activation="linear", name="dense")(rnn)
    return keras.Model(x, outputs)


def _compare(rows: list[dict[str, Any]], hand: np.ndarray, keras_values: np.ndarray, **key):
    difference = np.abs(hand - keras_values)
    for index in np.ndindex(hand.shape):
        rows.append(
            {
                **{k: v for k, v in key.items()},
                "index": str(list(index)),
                HAND: float(hand[index]),
                KERAS: float(keras_values[index]),
                DIFFERENCE: float(difference[index]),
            }
        )
    return float(difference.max())


@dataclass
class Demo:
    """A demo's weights (name -> array), its comparison table and largest difference."""

    weights: pd.DataFrame
    comparison: pd.DataFrame
    max_difference: float


# The second tutorial's names of the five weights of its linear demo.
TUTORIAL_NAMES = {
    "RNN/kernel": "wx",
    "RNN/recurrent_kernel": "wh",
    "RNN/bias": "bh",
    "dense/kernel": "wy",
    "dense/bias": "by",
}


def _weights_frame(model: Any, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Every weight of a demo model: Keras's key, the tutorial's name, shape, values."""
    from forecastlab.models import export_weights

    return pd.DataFrame(
        [
            {
                "weight": key,
                **({"tutorial's name": names.get(key, "")} if names else {}),
                "shape": _shape(value.shape),
                "values": np.array2string(value.ravel(), precision=6, separator=", "),
            }
            for key, value in export_weights(model).items()
        ]
    )


def linear_rnn_demo(seed: int = 1, x: Sequence[float] = (1.0, 2.0, 3.0)) -> Demo:
    """The second tutorial's SimpleRNN(2, linear) + Dense(1, linear) on x of shape
    (1, 3, 1), weights drawn by Keras's initializers after set_random_seed(seed):
    h_t = x_t w_x + h_(t-1) W_h + b_h, o_t = h_t w_y + b_y, by hand against predict."""
    from forecastlab.models import export_weights

    keras = _keras()
    keras.utils.set_random_seed(seed)
    model = _rnn_model(2, (3, 1), "linear", dense=True)
    inputs = np.asarray(x, np.float64).reshape(1, 3, 1)
    w = {k: np.asarray(v, np.float64) for k, v in export_weights(model).items()}
    hidden_model = keras.Model(model.inputs, [model.get_layer("RNN").output, model.output])
    keras_h, keras_o = hidden_model.predict(inputs.astype(np.float32), verbose=0)
    h = handcheck.simple_rnn(
        inputs, w["RNN/kernel"], w["RNN/recurrent_kernel"], w["RNN/bias"], "linear"
    )
    o = handcheck.dense(h, w["dense/kernel"], w["dense/bias"])
    rows: list[dict[str, Any]] = []
    worst = max(
        _compare(rows, h[0], np.asarray(keras_h[0], np.float64), value="h_t (t, unit)"),
        _compare(rows, o[0, :, 0], np.asarray(keras_o[0, :, 0], np.float64), value="o_t (t)"),
    )
    return Demo(_weights_frame(model, TUTORIAL_NAMES), pd.DataFrame(rows), worst)


def stateful_demo(seed: int = 1, x: Sequence[float] = (1.0, 2.0, 3.0), calls: int = 3) -> Demo:
    """The same model built stateful with batch_shape (1, 3, 1), called `calls` times on
    the same x: Keras keeps the last hidden state between calls, and so does the hand
    pass (initial_state = the previous call's last state)."""
    from forecastlab.models import export_weights

    keras = _keras()
    keras.utils.set_random_seed(seed)
    model = _rnn_model(2, (3, 1), "linear", dense=True, stateful=True, batch_size=1)
    inputs = np.asarray(x, np.float64).reshape(1, 3, 1)
    w = {k: np.asarray(v, np.float64) for k, v in export_weights(model).items()}
    rows: list[dict[str, Any]] = []
    worst, state = 0.0, np.zeros((1, 2))
    for call in range(1, calls + 1):
        keras_o = np.asarray(model.predict(inputs.astype(np.float32), verbose=0), np.float64)
        h = handcheck.simple_rnn(
            inputs,
            w["RNN/kernel"],
            w["RNN/recurrent_kernel"],
            w["RNN/bias"],
            "linear",
            initial_state=state,
        )
        state = h[:, -1]
        o = handcheck.dense(h, w["dense/kernel"], w["dense/bias"])
        worst = max(worst, _compare(rows, o[0, :, 0], keras_o[0, :, 0], call=call, value="o_t"))
    return Demo(_weights_frame(model), pd.DataFrame(rows), worst)


def basic_rnn_cell_demo(seed: int = 1, x_batch: np.ndarray = X_BATCH) -> Demo:
    """The fourth tutorial's BasicRNNCell (tanh) with 4 inputs, 6 neurons, 2 time steps on
    its X_batch (3, 2, 4), as Keras's SimpleRNN(6) with seeded weights: outputs
    (3, 2, 6) and final states (3, 6) by hand against Keras."""
    from forecastlab.models import export_weights

    keras = _keras()
    keras.utils.set_random_seed(seed)
    model = _rnn_model(6, x_batch.shape[1:], "tanh", dense=False, return_state=True)
    w = {k: np.asarray(v, np.float64) for k, v in export_weights(model).items()}
    keras_outputs, keras_states = model.predict(x_batch.astype(np.float32), verbose=0)
    outputs = handcheck.simple_rnn(
        x_batch, w["RNN/kernel"], w["RNN/recurrent_kernel"], w["RNN/bias"], "tanh"
    )
    rows: list[dict[str, Any]] = []
    worst = max(
        _compare(
            rows, outputs, np.asarray(keras_outputs, np.float64), value="outputs (n, t, unit)"
        ),
        _compare(
            rows, outputs[:, -1], np.asarray(keras_states, np.float64), value="states (n, unit)"
        ),
    )
    return Demo(_weights_frame(model), pd.DataFrame(rows), worst)


def x_batch_table(x_batch: np.ndarray = X_BATCH) -> pd.DataFrame:
    """The tutorial's X_batch: one row per instance and time step."""
    n, steps, _ = x_batch.shape
    return pd.DataFrame(
        [
            {"instance": i, "t": t, "x_t": str(x_batch[i, t].astype(int).tolist())}
            for i in range(n)
            for t in range(steps)
        ]
    )
