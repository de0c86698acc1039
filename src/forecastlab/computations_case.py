"""One trained model as a part of the computations report explains it: its files read
(`Case`) and laid out as tables (inputs and outputs, definition, training, weights)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from forecastlab.architectures import plan, target_steps
from forecastlab.computations import quiet_keras, shape_text
from forecastlab.io import read_json, read_npz
from forecastlab.layers import Layer, layer_kind
from forecastlab.layout import run_name, windows_file
from forecastlab.windows import horizon_of, model_targets


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
    quiet_keras()
    from forecastlab.models import load_model

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


def inputs_outputs(case: Case) -> pd.DataFrame:
    """The arrays the part reads and what the model makes of them, with their shapes:
    the test inputs (n, L, 1), the first window (1, L, 1), the targets and outputs."""
    target = case.run["hyperparams"].get("target", "next")
    steps = target_steps(case.run["arch"], case.run["hyperparams"])
    targets = model_targets(case.windows, "test", target, steps)
    predicted = case.model.predict(case.window.astype(np.float32), verbose=0)
    rows = [
        ("test inputs", case.windows["test_inputs"].shape, "every test window"),
        ("x", case.window.shape, "the first test window, used below"),
        (f"test targets ({target})", targets.shape, "what the model learnt to forecast"),
        ("model output", case.model.output_shape, "Keras's output shape (batch None)"),
        ("y = model.predict(x)", predicted.shape, "the saved model on the first window"),
    ]
    return pd.DataFrame(
        [(array, shape_text(shape), meaning) for array, shape, meaning in rows],
        columns=["array", "shape", "meaning"],
    )


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
                "output shape": shape_text(layer.output.shape),
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


def weights_table(case: Case) -> pd.DataFrame:
    """Every weight as Keras stores it (`RNN/kernel` (1, 20) ...): key, shape, role and,
    for gated layers (LSTM, GRU), which columns hold which gate (forecastlab.layers)."""
    layers = {layer.name: layer for layer in case.layers}
    rows = []
    for key, value in case.weights.items():
        layer_name, variable = key.split("/", 1)
        layer = layers[layer_name]
        kind = layer_kind(layer.kind)
        rows.append(
            {
                "weight": key,
                "shape": shape_text(value.shape),
                "scalars": int(value.size),
                "meaning": kind.weight_meanings.get(variable, variable),
                "gate blocks": kind.gate_blocks(layer, variable),
            }
        )
    return pd.DataFrame(rows)


def weight_values(case: Case, key: str, limit: int = 8) -> pd.DataFrame:
    """The first `limit` rows and columns of one weight, as a matrix (a vector: one row)."""
    value = np.atleast_2d(case.weights[key])[:limit, :limit]
    return pd.DataFrame(value, columns=[f"col {j}" for j in range(value.shape[1])])
