"""The verify job keeps the carried hidden states of its hand pass for the study report."""

import json
import subprocess
import sys

import numpy as np
import pytest

from forecastlab.handcheck import forward
from forecastlab.io import read_npz, write_npz
from tests.conftest import REPO

HP = {"units": 3, "activation": "tanh"}


@pytest.fixture
def model_files(tmp_path, monkeypatch):
    """A small rnn1's model, weights, windows, Keras predictions (stateless and stateful)
    and MLflow run, as the train job leaves them."""
    import keras

    from forecastlab.evaluation import stateful_predict, stateless_predict
    from forecastlab.models import build_model, export_weights
    from forecastlab.tracking import init_store, start_run
    from forecastlab.windows import sliding_windows

    keras.utils.set_random_seed(1)
    model = build_model("rnn1", HP, 4)
    series = np.sin(np.arange(60) * 0.7)
    inputs, _ = sliding_windows(series, 4)
    stateless, stateless_hidden = stateless_predict(model, inputs)
    stateful, stateful_hidden = stateful_predict(model, "rnn1", HP, series)
    files = {name: tmp_path / f"{name}.npz" for name in ("weights", "windows", "predictions")}
    write_npz(files["weights"], export_weights(model))
    model.save(tmp_path / "model.keras")
    write_npz(files["windows"], {"test_inputs": inputs})
    write_npz(
        files["predictions"],
        {
            "test_series": series,
            "stateless": stateless,
            "stateless_hidden": stateless_hidden,
            "stateful": stateful,
            "stateful_hidden": stateful_hidden,
        },
    )
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    init_store(uri, ["sine"])
    files["history"] = tmp_path / "history.json"
    files["history"].write_text(
        json.dumps({"run_id": start_run(uri, "sine", "sine/w4/rnn1", {}, {})})
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return files | {"model": tmp_path / "model.keras"}


def verify(files, output, *hidden):
    arguments = ["--name", "sine/w4/rnn1", "--arch", "rnn1", "--hyperparams", json.dumps(HP)]
    for role in ("model", "weights", "windows", "predictions", "history"):
        arguments += [f"--{role}", files[role]]
    result = subprocess.run(
        [sys.executable, str(REPO / "workflow/scripts/verify.py"), *map(str, arguments)]
        + ["--atol", "1e-5", "--output", str(output), *map(str, hidden)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_verify_keeps_the_hand_states_it_checked_and_writes_the_same_report(model_files, tmp_path):
    verify(model_files, tmp_path / "alone.json")
    verify(model_files, tmp_path / "verify.json", "--hidden", tmp_path / "hidden.npz")
    # The report is bitwise the one verify writes without keeping the states.
    assert (tmp_path / "verify.json").read_bytes() == (tmp_path / "alone.json").read_bytes()
    kept = read_npz(tmp_path / "hidden.npz")
    predictions = read_npz(model_files["predictions"])
    series = predictions["test_series"].reshape(1, -1, 1)
    _, hand = forward("rnn1", HP, read_npz(model_files["weights"]), series, sequences=True)
    assert list(kept) == ["stateful_hidden"] and kept["stateful_hidden"].dtype == np.float64
    np.testing.assert_array_equal(kept["stateful_hidden"], hand[0])  # (T, units)
    np.testing.assert_allclose(kept["stateful_hidden"], predictions["stateful_hidden"], atol=1e-5)


def test_a_model_without_a_stateful_mode_keeps_no_states(model_files, tmp_path):
    stateless_only = {
        key: values
        for key, values in read_npz(model_files["predictions"]).items()
        if key.startswith("stateless")
    }
    write_npz(model_files["predictions"], stateless_only)
    verify(model_files, tmp_path / "verify.json", "--hidden", tmp_path / "hidden.npz")
    assert read_npz(tmp_path / "hidden.npz") == {}
