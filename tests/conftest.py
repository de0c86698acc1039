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

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# Everything the pipeline needs to run in another directory (outputs excluded).
PIPELINE_FILES = ["Snakefile", "dvc.yaml", "profiles", "workflow", "src", "data/external"]


def tiny_params() -> dict:
    """Every kind of study, shrunk to seconds; only the sine study trains (3 epochs)."""
    return {
        "studies": {
            "sine": {
                "seed": 7,
                "source": {"kind": "sine", "period": 10, "cycles": 20, "noise": 0.0},
                "split": {"test_share": 0.25},
                "windows": {"lengths": [2, 5]},
                "architectures": ["rnn1"],
                "models": {
                    "rnn1": {
                        "units": 1,
                        "activation": "tanh",
                        "optimizer": "rmsprop",
                        "learning_rate": 0.01,
                        "batch_size": 32,
                        "epochs": 3,
                        "validation_split": 0.1,
                    },
                },
            },
            "walk": {
                "source": {"kind": "random_walk", "points": 222},
                "split": {"test_size": 21},
                "windows": {"lengths": [20], "cut": "non_overlapping", "targets": ["shifted"]},
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
                    "targets": ["horizon", "shifted_horizon"],
                    "horizon": 10,
                },
            },
        },
        "verification": {"atol": 1e-5},
    }


def run(cmd: list[str], cwd: Path, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    """Run a command from the venv's bin folder, capturing text output."""
    environment = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", **env}
    environment.pop("MLFLOW_TRACKING_URI", None)
    environment["DVC_NO_ANALYTICS"] = "1"
    result = subprocess.run(cmd, cwd=cwd, env=environment, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def make_pipeline_copy(root: Path, params: dict) -> Path:
    """A git repository holding the pipeline's code and `params` as params.yaml."""
    root.mkdir(parents=True, exist_ok=True)
    for name in PIPELINE_FILES:
        source, target = REPO / name, root / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
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
    run(["dvc", "config", "core.analytics", "false"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "tiny pipeline"], repo)
    run(["snakemake", "--cores", "2"], repo)
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
