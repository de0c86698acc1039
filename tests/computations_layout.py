"""A tiny copy of the tiny pipeline's trained models, laid out as the pipeline lays them
out, for the computations report's tests (forecastlab.computations_*)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import forecastlab  # noqa: F401  (pins the numerics before TensorFlow)
from forecastlab.io import write_json, write_npz
from forecastlab.layout import runs_of, windows_file

# Keras's own conversions under numpy 2 (model.save, Variable.numpy), not the library's.
KERAS_WARNINGS = "ignore:__array__ implementation:DeprecationWarning"
ATOL = 1e-5
TRAINING = {
    "optimizer": "adam",
    "learning_rate": 0.001,
    "batch_size": 8,
    "epochs": 2,
    "validation_split": 0.0,
}
# A tiny copy of the tiny pipeline's models: windows of 5 (walk, book) and 2 (sine).
STUDIES = {
    "sine": {
        "windows": {"lengths": [2], "targets": ["next"]},
        "architectures": ["naive", "rnn1", "stateful_rnn1"],
        "models": {
            "naive": {},
            "rnn1": {"units": 1, "activation": "tanh", **TRAINING},
            "stateful_rnn1": {"units": 1, "activation": "tanh", **TRAINING},
        },
    },
    "walk": {
        "windows": {"lengths": [5], "targets": ["shifted"]},
        "architectures": ["relu_rnn", "td_dense"],
        "models": {
            "relu_rnn": {
                "units": 3,
                "activation": "relu",
                "target": "shifted",
                "loss": "sse",
                **TRAINING,
            },
            "td_dense": {"target": "shifted", "loss": "sse", **TRAINING},
        },
    },
    "book": {
        "windows": {"lengths": [5], "targets": ["shifted_horizon"], "horizon": 2},
        "architectures": ["seq2seq", "lstm", "gru"],
        "models": {
            arch: {"units": units, "target": "shifted_horizon", **TRAINING}
            for arch, units in (("seq2seq", [3, 3]), ("lstm", [2, 2]), ("gru", 3))
        },
    },
}


def make_layout(root: Path, studies: dict = STUDIES, seed: int = 3) -> list[dict]:
    """Windows, seeded weights (biases too, so every bias is checked), model.keras,
    weights.npz and history.json under `root`, as the pipeline lays them out."""
    from forecastlab.models import build_model, compile_model, export_weights

    rng = np.random.default_rng(seed)
    for study, spec in studies.items():
        for length in spec["windows"]["lengths"]:
            horizon = spec["windows"].get("horizon", 1)
            n = 3
            windows = {"test_inputs": rng.normal(size=(n, length, 1)).astype(np.float32)}
            for part in ("train", "test"):
                windows[f"{part}_targets_next"] = rng.normal(size=n).astype(np.float32)
                windows[f"{part}_targets_shifted"] = rng.normal(size=(n, length, 1))
                if horizon > 1:
                    windows[f"{part}_targets_shifted_horizon"] = rng.normal(
                        size=(n, length, horizon)
                    )
            write_npz(root / windows_file(study, length), windows)
    runs = runs_of(studies)
    for run in runs:
        if run["arch"] == "naive":
            continue
        horizon = studies[run["study"]]["windows"].get("horizon", 1)
        model = build_model(run["arch"], run["hyperparams"], run["window"], horizon=horizon)
        for layer in model.layers:
            if layer.weights:
                layer.set_weights(
                    [rng.normal(0, 0.6, w.shape).astype(np.float32) for w in layer.get_weights()]
                )
        compile_model(model, run["hyperparams"])
        path = root / run["model"]
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
        write_npz(root / run["weights"], export_weights(model))
        history = {"loss": [2.0, 1.5]}
        write_json(root / run["history"], {"history": history, "final_loss": 1.5})
    return runs


def names(chosen: dict) -> dict:
    return {
        part: run and f"{run['study']}/w{run['window']}/{run['arch']}"
        for part, run in chosen.items()
    }
