"""The command-line adapters turn bad input into one clear line naming what is wrong."""

import csv
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from forecastlab.handcheck import forward
from forecastlab.io import read_npz, write_npz
from tests.conftest import REPO

HP = {"units": 3, "activation": "tanh"}


def script(name, *args):
    return subprocess.run(
        [sys.executable, str(REPO / f"workflow/scripts/{name}.py"), *map(str, args)],
        capture_output=True,
        text=True,
    )


def test_acquire_names_the_file_and_line_of_a_bad_row(tmp_path):
    bad = tmp_path / "series.csv"
    bad.write_text('"Month","x"\n"1949-01",1\n"1949-02",?\n')
    digest = hashlib.sha256(bad.read_bytes()).hexdigest()
    source = {"kind": "csv", "file": str(bad), "sha256": digest, "download": False}
    result = script(
        "acquire", "--source", json.dumps(source), "--seed", 0, "--output", tmp_path / "raw.csv"
    )
    assert result.returncode == 1
    assert result.stderr.strip().endswith(f"error: {bad}:3: value '?' is not a number")
    assert not (tmp_path / "raw.csv").exists()


def test_window_longer_than_a_part_names_study_length_and_part(tmp_path):
    prepared = tmp_path / "prepared.npz"
    write_npz(
        prepared, {"train": np.arange(100.0), "validation": np.arange(0.0), "test": np.arange(30.0)}
    )
    result = script(
        "window",
        "--input",
        prepared,
        "--study",
        "spots",
        "--length",
        48,
        "--cut",
        "non_overlapping",
        "--targets",
        "next",
        "--output",
        tmp_path / "w48.npz",
    )
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        "error: study spots, window length 48, test part: a window of 48 and its targets need 49 points, got 30"
    )
    assert not (tmp_path / "w48.npz").exists()


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
    run_id = start_run(uri, "sine", "sine/w4/rnn1", {}, {})
    files["history"].write_text(json.dumps({"run_id": run_id}))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return files | {"model": tmp_path / "model.keras", "run_id": run_id}


def verify(files, output, *hidden, check=True, seeds=(1,)):
    """verify.py on the model's seeds: `files` and `output` by seed where there are several."""
    per_seed = [files] if len(seeds) == 1 else files
    outputs = [output] if len(seeds) == 1 else output
    arguments = ["--study", "sine", "--length", "4", "--arch", "rnn1", "--hyperparams"]
    arguments += [json.dumps(HP), "--seeds", *seeds, "--windows", per_seed[0]["windows"]]
    for role in ("model", "weights", "predictions", "history"):
        arguments += [f"--{role}", *(seed_files[role] for seed_files in per_seed)]
    result = subprocess.run(
        [sys.executable, str(REPO / "workflow/scripts/verify.py"), *map(str, arguments)]
        + ["--atol", "1e-5", "--output", *map(str, outputs), *map(str, hidden)],
        capture_output=True,
        text=True,
    )
    assert not check or result.returncode == 0, result.stderr
    return result


def perturb(files):
    """Change one weight of the model and its weights file alike after Keras predicted:
    the hand pass then differs from Keras's predictions."""
    import keras

    from forecastlab.models import export_weights

    model = keras.saving.load_model(files["model"], compile=False)
    kernel = model.get_layer("RNN").weights[1]
    kernel.assign(kernel.numpy() + np.eye(3, dtype="float32")[1] * 1e-3)
    model.save(files["model"])
    write_npz(files["weights"], export_weights(model))


def test_verify_fails_naming_the_model_when_one_saved_weight_is_perturbed(model_files, tmp_path):
    verify(model_files, tmp_path / "verify.json")
    assert json.loads((tmp_path / "verify.json").read_text())["passed"]
    (tmp_path / "verify.json").unlink()

    perturb(model_files)
    result = verify(model_files, tmp_path / "verify.json", check=False)
    assert result.returncode == 1
    assert re.search(
        r"verification failed for sine/w4/rnn1/seed1: (stateless|stateful) mode, max \|hand - keras\| = [0-9.e-]+ "
        r"> atol 1e-05 \+ rtol 0 x \|keras\| at index \[\d+(, \d+)*\] of \w+",
        result.stderr,
    ), result.stderr
    assert not (tmp_path / "verify.json").exists()
    run = MlflowClient(os.environ["MLFLOW_TRACKING_URI"]).get_run(
        model_files["run_id"]
    )  # closed as FAILED, saying why
    assert run.info.status == "FAILED"
    assert run.data.tags["mlflow.note.content"] in result.stderr


def test_one_job_verifies_every_seed_and_fails_naming_only_the_seed_that_differs(
    model_files, tmp_path
):
    from forecastlab.tracking import start_run

    # A second seed: the same files copied, with its own MLflow run, then perturbed.
    second = {}
    for role in ("model", "weights", "predictions"):
        second[role] = tmp_path / "seed2" / Path(model_files[role]).name
        second[role].parent.mkdir(exist_ok=True)
        second[role].write_bytes(Path(model_files[role]).read_bytes())
    uri = os.environ["MLFLOW_TRACKING_URI"]
    second_run = start_run(uri, "sine", "sine/w4/rnn1/seed2", {}, {})
    second["history"] = tmp_path / "seed2/history.json"
    second["history"].write_text(json.dumps({"run_id": second_run}))
    second["windows"] = model_files["windows"]
    outputs = [tmp_path / "verify1.json", tmp_path / "verify2.json"]

    verify([model_files, second], outputs, seeds=(1, 2))
    assert all(json.loads(output.read_text())["passed"] for output in outputs)

    perturb(second)
    result = verify([model_files, second], outputs, check=False, seeds=(1, 2))
    assert result.returncode == 1
    assert "verification failed for sine/w4/rnn1/seed2: " in result.stderr
    assert "verification failed for 1 of 2 seeds: sine/w4/rnn1/seed2" in result.stderr
    assert "failed for sine/w4/rnn1/seed1" not in result.stderr
    assert "sine/w4/rnn1/seed1: hand forward equals Keras in every mode" in result.stderr
    client = MlflowClient(uri)
    assert client.get_run(model_files["run_id"]).info.status == "FINISHED"
    assert client.get_run(second_run).info.status == "FAILED"

    result = verify([model_files, second], outputs[:1], check=False, seeds=(1, 2))
    assert result.returncode == 2 and "--output needs one file per seed (2), got 1" in result.stderr


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


def test_split_names_study_file_and_line_of_a_bad_raw_row(tmp_path):
    raw = tmp_path / "raw.csv"
    raw.write_text("t,value\n0,1.0\n1,abc\n")
    result = script(
        "split",
        "--input",
        raw,
        "--study",
        "sine",
        "--split",
        '{"test_share": 0.25}',
        "--scaler",
        "none",
        "--output",
        tmp_path / "prepared.npz",
    )
    assert result.returncode == 1
    assert result.stderr.strip().endswith(
        f"error: study sine: {raw}:3: value 'abc' is not a number"
    )
    assert not (tmp_path / "prepared.npz").exists()


def test_summarize_takes_2000_runs_from_the_compact_studies_mapping(tmp_path):
    # 40 window lengths: a naive baseline (one run) and 7 architectures of 7 seeds each.
    from forecastlab.layout import runs_of
    from forecastlab.numerics import fingerprint

    archs = ["naive", "linear", "rnn1", "rnn3", "lstm", "gru", "deep_rnn", "seq2vec"]
    studies = {
        "big": {
            "source": {"kind": "sine"},
            "seeds": 7,
            "windows": {"lengths": list(range(2, 42))},
            "architectures": archs,
            "models": {arch: {} for arch in archs},
        }
    }
    runs = runs_of(studies)
    assert len(runs) == 2000
    environment = fingerprint()
    for number, run in enumerate(runs):
        modes = {"stateless": {"mse": 1.0 + number, "n": 5}}
        if run["arch"] == "rnn1":
            for mode in ("stateful", "stateful_warm", "stateful_reset_L"):
                modes[mode] = {"mse": 2.0 + number, "n": 5}
        files = {
            "history": {"history": {}, "environment": environment},
            "eval": {"modes": modes, "environment": environment, "target": "next", "horizon": 1},
            "verify": {"passed": True, "modes": {"stateless": {"max_abs_error": 1e-7}}},
        }
        for role, payload in files.items():
            (tmp_path / run[role]).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / run[role]).write_text(json.dumps(payload))
        # 4 windows over a 12-step test part, as evaluation saves them.
        steps, ends = np.arange(12.0), np.array([3, 5, 7, 9])
        arrays = {
            "test_series": steps,
            "target_positions": ends,
            "test_targets": steps[ends],
            "stateless": steps[ends] + np.random.default_rng(number).normal(0, 0.1, 4),
        }
        if run["arch"] == "rnn1":
            arrays |= dict.fromkeys(("stateful", "stateful_warm", "stateful_reset_L"), steps + 1)
        write_npz(tmp_path / run["predictions"], arrays)
    argument = json.dumps(studies)
    assert len(argument) < 4096  # Linux caps one argument at 128 KiB; runs would pass it
    assert len(json.dumps(runs)) > 128 * 1024
    result = subprocess.run(
        [sys.executable, str(REPO / "workflow/scripts/summarize.py"), "--studies", argument]
        + ["--summary", "summary.csv", "--metrics", "metrics.json", "--stateful", "s.csv"]
        + ["--aggregates", "aggregates.csv"]
        + ["--environment", "environment.json", "--plots", "plots", "--level", "0.05"]
        + ["--mcs", json.dumps({"seed": 1, "reps": 100, "block_size": None})]
        + ["--pairwise", "pairwise.csv", "--confidence-set", "mcs.csv", "--claims", "claims.csv"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    # rnn1's 280 runs have 4 modes each, every other run 1.
    assert "2000 runs of 320 models, 2840 rows" in result.stderr
    rows = (tmp_path / "summary.csv").read_text().splitlines()
    assert len(rows) == 1 + 2840
    with open(tmp_path / "s.csv", newline="") as handle:
        verdicts = list(csv.DictReader(handle))
    assert len(verdicts) == 40 and {v["seeds"] for v in verdicts} == {"7"}
    with open(tmp_path / "aggregates.csv", newline="") as handle:
        aggregates = list(csv.DictReader(handle))
    # Per model and mode: mse, and verify_max_abs_error.
    assert len(aggregates) == 2 * (320 + 40 * 3)
    assert {a["seeds"] for a in aggregates if a["architecture"] != "naive"} == {"7"}
    # Per window, the 8 models' next-value forecasts: 28 pairs, and the confidence set.
    with open(tmp_path / "pairwise.csv", newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 40 * 28
    with open(tmp_path / "mcs.csv", newline="") as handle:
        members = list(csv.DictReader(handle))
    assert len(members) == 320 and {m["seeds"] for m in members if m["model"] == "lstm"} == {"7"}


def test_train_fails_naming_the_seed_that_failed(tmp_path, monkeypatch):
    from forecastlab.tracking import init_store
    from tests.conftest import tiny_model_hp, tiny_series

    raw, prepared = tmp_path / "raw.csv", tmp_path / "prepared.npz"
    raw.write_text("t,value\n" + "".join(f"{t},{v}\n" for t, v in enumerate(tiny_series(120))))
    split = ("--split", '{"test_share": 0.25}', "--scaler", "none", "--output", prepared)
    assert script("split", "--input", raw, "--study", "sine", *split).returncode == 0
    windows = tmp_path / "w4.npz"
    cut = ("--cut", "sliding", "--targets", "next", "--output", windows)
    assert (
        script("window", "--input", prepared, "--study", "sine", "--length", 4, *cut).returncode
        == 0
    )
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    init_store(uri, ["sine"])
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    (tmp_path / "2/model.keras").mkdir(parents=True)  # seed 2's model cannot be written
    (tmp_path / "2/model.keras/in_the_way").touch()
    names = {"model": "model.keras", "history": "history.json", "metrics": "eval.json"}
    files = []
    for role in ("model", "weights", "history", "metrics", "predictions"):
        name = names.get(role, f"{role}.npz")
        files += [f"--{role}", tmp_path / "1" / name, tmp_path / "2" / name]
    result = script(
        "train",
        *("--windows", windows, "--prepared", prepared, "--study", "sine", "--length", 4),
        *("--arch", "linear", "--seeds", 1, 2, "--data-params", "{}"),
        *("--hyperparams", json.dumps(tiny_model_hp("linear")), *files),
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert re.match(r"SeedFailed: sine/w4/linear/seed2 failed: ", last), last
    assert (tmp_path / "1/eval.json").exists() and not (tmp_path / "2/weights.npz").exists()
