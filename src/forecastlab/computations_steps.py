"""A case's first steps by hand beside Keras's: the equations of its layers, every layer's
values by hand (`forecastlab.layers`, numpy in float64) and by Keras's per-step twin of
the saved model, and their comparison."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecastlab import handcheck
from forecastlab.computations import DIFFERENCE, HAND, KERAS, Html, quiet_keras
from forecastlab.computations_case import Case
from forecastlab.layers import LAYER_KINDS, SUB, Layer, layer_kind, layer_weights, sup


def equations(case: Case) -> Html:
    """The model's computations at step t as HTML (<sub>, <sup>, no LaTeX): each layer
    reads the previous one's output at the same step; &sigma; is the sigmoid, &odot; the
    elementwise product, vectors are rows (x W as Keras computes it)."""
    recurrent = [layer for layer in case.layers if layer_kind(layer.kind).recurrent]
    lines, legends, source, index = [], [], f"x{SUB['t']}", 0
    for layer in case.layers:
        kind = layer_kind(layer.kind)
        if kind.equations is None:
            raise ValueError(f"no equations for layer kind {layer.kind!r}")
        number = None
        if kind.recurrent:
            index += 1
            number = index if len(recurrent) > 1 else None
        layer_lines, legend = kind.equations(layer, number, source)
        lines += layer_lines
        legends += [legend] if legend else []
        if kind.recurrent:
            source = f"h{sup(number)}{SUB['t']}"
    notes = ["Weights: " + "; ".join(legends) + "."]
    present = {layer.kind for layer in case.layers}
    notes += [
        kind.equations_note
        for name, kind in LAYER_KINDS.items()
        if name in present and kind.equations_note
    ]
    body = "".join(f"<li>{line}</li>" for line in lines)
    return Html(f"<ul>{body}</ul>" + "".join(f"<p>{note}</p>" for note in notes))


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


def hand_layers(
    layers: Sequence[Layer], weights: Mapping[str, np.ndarray], x: np.ndarray
) -> dict[str, dict[str, np.ndarray]]:
    """Every layer's per-step output by hand (its kind's numpy pass), in float64:
    layer name -> {"input": (n, T, d), "h": (n, T, units)} and "c" for LSTM."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for layer in layers:
        w = layer_weights(weights, layer.name)
        out[layer.name] = {"input": x, **layer_kind(layer.kind).numpy(layer, w, x)}
        x = out[layer.name]["h"]
    return out


def keras_layers(
    model: Any, layers: Sequence[Layer], x: np.ndarray, steps: int
) -> dict[str, dict[str, np.ndarray]]:
    """Keras's per-step output of every layer of `model` (a per-step twin, the layers
    named as in `layers`) on x (1, T, 1): layer name -> {"h": (1, T, units)}, and where
    a kind compares its cell state (LSTM) "c" (1, steps, units) from Keras's own cell
    called step by step from zero."""
    keras = quiet_keras()
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
        if "c" in layer_kind(layer.kind).compared:
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


def _details(
    layer: Layer, w: Mapping[str, np.ndarray], values: Mapping[str, np.ndarray], steps: int
) -> pd.DataFrame:
    """One layer's intermediate values at steps 1..steps by hand, first instance: what the
    equations give before the compared output (pre-activations, gates)."""
    kind = layer_kind(layer.kind)
    if kind.details is None:
        raise ValueError(f"no step-by-step computation for layer kind {layer.kind!r}")
    first = {quantity: value[0] for quantity, value in values.items()}
    rows = []
    for t in range(steps):
        columns = kind.details(layer, w, first, t)
        for unit in range(columns[next(iter(columns))].shape[-1]):
            rows.append(
                {"t": t + 1, "unit": unit, **{k: float(v[unit]) for k, v in columns.items()}}
            )
    return pd.DataFrame(rows)


def compute_steps(case: Case, steps: int = 3, units: int = 4, rtol: float = 0.0) -> Computation:
    """The first `steps` steps of the first test window by hand (forecastlab.layers'
    numpy passes on the saved weights, float64) beside Keras's per-step twin of the saved
    model.

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
        kind = layer_kind(layer.kind)
        w = layer_weights(case.weights, layer.name)
        title = f"{layer.name} ({layer.kind}), by hand, first {shown} steps"
        details.append((title, _details(layer, w, hand[layer.name], shown)))
        for quantity in kind.compared:
            mine = hand[layer.name][quantity][0, :shown]
            theirs = keras_values[layer.name][quantity][0, :shown]
            difference = np.abs(mine - theirs)
            worst = max(worst, float(difference.max()))
            excess = max(excess, float((difference - rtol * np.abs(theirs)).max()))
            compared += difference.size
            label = kind.symbol if quantity == "h" else quantity
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
