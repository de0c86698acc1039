"""The command-line adapters turn bad input into one clear line naming what is wrong."""

import hashlib
import json
import subprocess
import sys

import numpy as np

from forecastlab.io import write_npz
from tests.conftest import REPO


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
