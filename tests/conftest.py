"""Shared fixtures: the repository's paths and a tiny, fast copy of the pipeline."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import yaml

import forecastlab  # noqa: F401  (pins the numerics before any test imports TensorFlow)

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def tiny_params() -> dict:
    """Every kind of study, shrunk to seconds: a few architectures of each kind (baselines,
    window-trained and statefully trained recurrent models, a relu seq-to-seq RNN, a
    multi-step textbook study, a model of each layer type the computations report
    explains) train for 2 or 3 epochs; the sunspots copy is data only."""
    return {
        "studies": {
            "sine": {
                "seed": 7,
                "source": {"kind": "sine", "period": 10, "cycles": 20, "noise": 0.0},
                "split": {"test_share": 0.25},
                "windows": {"lengths": [2, 5]},
                "architectures": ["naive", "rnn1", "stateful_rnn1"],
                "models": {
                    "naive": {},
                    "rnn1": {
                        "seeds": 2,  # seeds 7 and 8: the replicates and their aggregates
                        "units": 1,
                        "activation": "tanh",
                        "optimizer": "rmsprop",
                        "learning_rate": 0.01,
                        "batch_size": 32,
                        "epochs": 3,
                        "validation_split": 0.1,
                    },
                    "stateful_rnn1": {"batch_size": 4, "epochs": 2, "learning_rate": 0.01},
                },
            },
            "walk": {
                "source": {"kind": "random_walk", "points": 222},
                "split": {"test_size": 21},
                "windows": {"lengths": [20], "cut": "non_overlapping", "targets": ["shifted"]},
                "architectures": ["relu_rnn", "td_dense"],
                "models": {
                    "relu_rnn": {
                        "units": 8,
                        "activation": "relu",
                        "target": "shifted",
                        "loss": "sse",
                        "batch_size": 1000,
                        "epochs": 3,
                        "validation_split": 0.0,
                    },
                    "td_dense": {"target": "shifted", "epochs": 3, "validation_split": 0.0},
                },
            },
            "spots": {
                "source": {
                    "kind": "csv",
                    "file": "data/external/monthly-sunspots.csv",
                    "sha256": "c4ec8cc57d9f6fb6ecdb3e1f37f25b6f4badd5124c55931052b0cd2fc3bc71f3",
                },
                "split": {"validation_share": 0.1, "test_share": 0.2},
                "scaler": "minmax",
                "windows": {"lengths": [12, 24], "cut": "non_overlapping"},
            },
            "book": {
                "source": {"kind": "textbook", "n_series": 40, "n_steps": 60},
                "split": {"validation_size": 8, "test_size": 4},
                "windows": {
                    "lengths": [50],
                    "cut": "series",
                    "targets": ["next", "horizon", "shifted_horizon"],
                    "horizon": 10,
                },
                "architectures": ["naive", "rnn1", "seq2seq", "lstm", "gru"],
                "models": {
                    "naive": {},
                    "rnn1": {"epochs": 2, "batch_size": 8, "validation_split": 0.0},
                    **{
                        # seq2seq: the two-layer SimpleRNN of the computations report.
                        arch: {
                            "units": [4, 4],
                            "target": "shifted_horizon",
                            "epochs": 2,
                            "batch_size": 8,
                            "validation_split": 0.0,
                        }
                        for arch in ("seq2seq", "lstm", "gru")
                    },
                },
            },
        },
        "verification": {"atol": 1e-5},
        # dvc.yaml's report stage lists this key: DVC reads it from the file itself.
        "statistics": {"level": 0.05},
    }


# One small configuration of every architecture, for windows of 8 steps and a horizon of 3.
TINY_MODELS: dict[str, dict] = {
    "naive": {"target": "next"},
    "seasonal_naive": {"target": "horizon", "season": 4},
    "linear": {"target": "next"},
    "linear_direct": {"target": "horizon"},
    "td_dense": {"target": "shifted"},
    "rnn1": {"units": 1},
    "rnn3": {"units": 3, "output_activation": "tanh"},
    "deep_rnn": {"units": [4, 4, 1], "head": "none"},
    "deep_rnn_dense": {"units": [4, 4]},
    "seq2vec": {"units": [4, 4], "target": "horizon"},
    "seq2seq": {"units": [4, 4], "target": "shifted_horizon"},
    "bn_rnn": {"units": [4, 4], "target": "shifted_horizon"},
    "relu_rnn": {"units": 6, "activation": "relu", "target": "shifted", "loss": "sse"},
    "mc_rnn": {"units": [4, 4], "dropout": 0.2, "mc_samples": 5},
    "ln_rnn": {"units": [4, 4], "target": "shifted_horizon"},
    "lstm": {"units": [3, 3]},
    "gru": {"units": 3, "target": "shifted"},
    "stateful_rnn1": {"units": 1, "batch_size": 2},
    "stateful_rnn3": {"units": 3, "batch_size": 2},
    "stateful_lstm": {"units": 2, "batch_size": 2},
    "stateful_gru": {"units": 2, "batch_size": 2},
    "conv_gru": {"units": [4, 4], "target": "shifted_horizon", "filters": 4, "kernel_size": 4},
    "wavenet": {"target": "shifted_horizon", "filters": 4, "dilations": [1, 2, 4]},
}
TINY_LENGTH, TINY_HORIZON = 8, 3


def tiny_model_hp(arch: str) -> dict:
    """TINY_MODELS[arch] over the schema's defaults, trained briefly."""
    from forecastlab.config import load_yaml

    schema = load_yaml(REPO / "workflow/schemas/params.schema.yaml")
    # A model's `seeds` has no default of its own: it falls back to its study's.
    properties = schema["$defs"]["model"]["properties"].items()
    defaults = {k: v["default"] for k, v in properties if "default" in v}
    training = {"learning_rate": 0.01, "batch_size": 16, "epochs": 2, "validation_split": 0.0}
    return {**defaults, **training, **TINY_MODELS[arch]}


def tiny_series(n_points: int = 80) -> np.ndarray:
    """A noisy wave: (n_points,) float32."""
    steps = np.arange(n_points)
    return (np.sin(steps * 0.7) + 0.1 * np.cos(steps * 2.3)).astype("float32")


def tiny_windows() -> dict:
    """Sliding windows of TINY_LENGTH over tiny_series, with every target kind, as a
    windows file holds them for its train part."""
    from forecastlab.windows import cut_windows

    inputs, targets, _ = cut_windows(
        tiny_series(),
        TINY_LENGTH,
        "sliding",
        ["next", "shifted", "horizon", "shifted_horizon"],
        TINY_HORIZON,
    )
    return {"train_inputs": inputs, **{f"train_targets_{k}": v for k, v in targets.items()}}


def command_env(**env: str) -> dict[str, str]:
    """The environment of a pipeline command: the venv's bin folder first, the default
    MLflow store, no DVC analytics, plus `env`."""
    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **env}
    environment.pop("MLFLOW_TRACKING_URI", None)
    environment["DVC_NO_ANALYTICS"] = "1"
    return environment


def run(cmd: list[str], cwd: Path, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    """Run a command from the venv's bin folder, capturing text output."""
    result = subprocess.run(cmd, cwd=cwd, env=command_env(**env), capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def make_pipeline_copy(root: Path, params: dict) -> Path:
    """A git repository holding the pipeline's code and `params` as params.yaml."""
    from forecastlab.reproduce import copy_pipeline

    root.mkdir(parents=True, exist_ok=True)
    copy_pipeline(REPO, root)
    shutil.copy2(REPO / ".gitignore", root / ".gitignore")
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], root)
    run(["git", "config", "user.email", "test@example.com"], root)
    run(["git", "config", "user.name", "forecastlab tests"], root)
    return root


@pytest.fixture(scope="session")
def pipeline_repo(tmp_path_factory) -> Path:
    """A git + DVC repository where the whole tiny pipeline has run once (shared: tests
    that change it run after those that only read it)."""
    repo = make_pipeline_copy(tmp_path_factory.mktemp("pipeline") / "repo", tiny_params())
    run(["dvc", "init", "-q"], repo)
    # The project's DVC settings: its plot templates and the page that renders offline.
    shutil.copy2(REPO / ".dvc/config", repo / ".dvc/config")
    shutil.copytree(REPO / ".dvc/plots", repo / ".dvc/plots")
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "tiny pipeline"], repo)
    # A temporary folder of its own, for the test that the run leaves nothing there.
    temporary = repo.parent / "tmp"
    temporary.mkdir()
    result = run(["snakemake", "--cores", "2"], repo, TMPDIR=str(temporary))
    # What the terminal showed, for the tests of progress lines (outside the repository).
    (repo.parent / "terminal.txt").write_text(result.stdout + result.stderr)
    return repo


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, seconds: float = 90) -> int:
    """Poll `url` until it answers; fail early if `process` (its server) has died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[1]
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {seconds} s")


@pytest.fixture(scope="session")
def computations_layout(tmp_path_factory) -> tuple[Path, list[dict]]:
    """A folder holding one trained model for each part of the computations report, and
    its runs (tests.computations_layout; shared: the tests only read it)."""
    from tests.computations_layout import make_layout

    root = tmp_path_factory.mktemp("computations")
    return root, make_layout(root)


@pytest.fixture
def in_computations_layout(computations_layout, monkeypatch) -> list[dict]:
    """computations_layout's runs, with the working directory in its folder."""
    root, runs = computations_layout
    monkeypatch.chdir(root)
    return runs
