"""The reproduction check: its comparison rules, and a real run on a tiny pipeline."""

from __future__ import annotations

import csv
import sys

import pytest

from forecastlab.reproduce import (
    changed_verdicts,
    compare,
    compare_value,
    inside_spread,
    read_rows,
    seed_spreads,
    select,
)
from tests.conftest import make_pipeline_copy, run, tiny_params

ROWS = [
    {
        "study": "sine",
        "window": "2",
        "architecture": "rnn1",
        "seed": "7",
        "mode": "stateless",
        "mse": "0.5",
    },
    {
        "study": "sine",
        "window": "2",
        "architecture": "rnn1",
        "seed": "7",
        "mode": "stateful",
        "mse": "0.25",
    },
    {
        "study": "sine",
        "window": "10",
        "architecture": "lstm",
        "seed": "7",
        "mode": "stateless",
        "mse": "2.0",
    },
    {
        "study": "walk",
        "window": "20",
        "architecture": "relu_rnn",
        "seed": "7",
        "mode": "stateless",
        "mse": "",
    },
]


def test_select_by_model_window_or_study():
    assert select(ROWS, []) == ROWS
    assert select(ROWS, ["sine/w2/rnn1"]) == ROWS[:2]
    assert select(ROWS, ["sine/w2/rnn1/seed7"]) == ROWS[:2] and select(ROWS, ["walk"]) == ROWS[3:]
    assert select(ROWS, ["sine/w10", "walk"]) == ROWS[2:]
    assert select(ROWS, ["sine", "sine/w2"]) == ROWS[:3]
    with pytest.raises(ValueError, match=r"^'sine/w1' names no model of the committed summary"):
        select(ROWS, ["sine/w1"])


def test_a_summary_without_its_naming_columns_is_refused_naming_them(tmp_path):
    old = tmp_path / "summary.csv"
    old.write_text("study,window,architecture,mode,mse\nsine,2,rnn1,stateless,0.5\n")
    with pytest.raises(
        ValueError, match="^no column seed, fingerprint; rerun the pipeline to make it$"
    ):
        read_rows(old)


def test_compare_value_bitwise_within_tolerance_or_different():
    assert compare_value("0.1", "0.1", 0.0) == "bitwise"
    assert compare_value("0.1", "0.10000000000000002", 1e-6) == "within rtol"
    assert compare_value("0.1", "0.10000000000000002", 0.0) == "different"
    assert compare_value("0.1", "0.2", 1e-6) == "different"
    assert compare_value("True", "False", 1e-6) == "different"
    assert compare_value("nan", "nan", 1e-6) == "bitwise"


def test_compare_names_each_metric_and_a_missing_row():
    again = [dict(ROWS[0], mse="0.5000001"), ROWS[2], ROWS[3]]
    records = compare(ROWS, again, rtol=1e-6)
    assert [(r["model"], r["mode"], r["status"]) for r in records] == [
        ("sine/w2/rnn1/seed7", "stateless", "within rtol"),
        ("sine/w2/rnn1/seed7", "stateful", "different"),
        ("sine/w10/lstm/seed7", "stateless", "bitwise"),
    ]  # the empty cell of both is no metric
    assert records[1]["reproduced"] == "missing"


def reproduce(repo, *args):
    command = [sys.executable, "-m", "forecastlab.reproduce", "--repo", str(repo), "--cores", "2"]
    return run([*command, *args], repo, check=False)


@pytest.mark.slow
def test_reproduction_check_on_a_tiny_pipeline(tmp_path):
    sine = tiny_params()["studies"]["sine"]
    del sine["models"]["stateful_rnn1"]
    params = {
        "studies": {
            "sine": {**sine, "windows": {"lengths": [2]}, "architectures": ["naive", "rnn1"]}
        }
    }
    repo = make_pipeline_copy(tmp_path / "repo", params)
    run(["snakemake", "--cores", "2", "results/summary.csv"], repo)
    copy = tmp_path / "again"

    untouched = reproduce(repo, "--keep", str(copy))
    assert untouched.returncode == 0, untouched.stderr
    lines = untouched.stdout.splitlines()
    assert "sine/w2/rnn1/seed8" in untouched.stdout and "sine/w2/naive/seed7" in untouched.stdout
    total = int(lines[-1].split()[0])
    assert total > 20 and lines[-1].endswith(
        f"{total} bitwise equal, 0 equal within rtol 1e-06, 0 different"
    ), lines[-1]
    assert "fingerprints differ" not in untouched.stdout
    assert "stateful verdicts of 1 model(s) with every seed rerun: 0 changed" in untouched.stdout

    # One stored metric altered: the check fails and names it with both values. (The kept
    # copy is reused, so nothing is retrained.)
    summary = repo / "results/summary.csv"
    with open(summary, newline="") as handle:
        rows = list(csv.DictReader(handle))
    row = next(
        r for r in rows if (r["architecture"], r["seed"], r["mode"]) == ("rnn1", "8", "stateful")
    )
    reproduced_value, row["mse"] = row["mse"], repr(float(row["mse"]) * 1.5)
    with open(summary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    altered = reproduce(repo, "sine/w2/rnn1", "--keep", str(copy))
    assert altered.returncode == 1
    assert (
        f"sine/w2/rnn1/seed8 stateful mse different {row['mse']} -> {reproduced_value}"
        in " ".join(altered.stdout.split())
    )
    assert altered.stdout.splitlines()[-1].endswith(", 1 different")
    assert "statistically: " in altered.stdout and " of the 1 metrics that differ" in altered.stdout

    # An unknown selection stops before any work, naming it.
    unknown = reproduce(repo, "sine/w3/rnn1")
    assert unknown.returncode == 2
    assert f"error: {summary}: 'sine/w3/rnn1' names no model" in unknown.stderr


SEEDS = [
    dict(ROWS[0], seed="7", mse="0.5"),
    dict(ROWS[0], seed="8", mse="0.7"),
    dict(ROWS[0], seed="9", mse="0.6"),
    dict(ROWS[2], seed="7", mse="2.0"),
]


def test_a_differing_metric_is_inside_the_spread_of_its_models_committed_seeds():
    spreads = seed_spreads(SEEDS)
    assert spreads[("sine", "2", "rnn1", "stateless", "mse")] == (0.5, 0.7, 3)

    def record(model, value):
        return {"model": model, "mode": "stateless", "metric": "mse", "reproduced": value}

    assert inside_spread(record("sine/w2/rnn1/seed8", "0.55"), spreads)
    assert inside_spread(record("sine/w2/rnn1/seed8", "0.7"), spreads)
    assert not inside_spread(record("sine/w2/rnn1/seed8", "0.71"), spreads)
    assert not inside_spread(record("sine/w2/rnn1/seed8", "missing"), spreads)
    # One seed has no spread: any difference lies outside it.
    assert not inside_spread(record("sine/w10/lstm/seed7", "2.0"), spreads)


def test_changed_verdicts_names_the_model_the_mode_and_both_verdicts():
    committed = [
        {"study": "sine", "window": "2", "architecture": "rnn1", "stateful is": "worse"},
        {"study": "sine", "window": "10", "architecture": "gru", "stateful is": "better"},
    ]
    rerun = [
        {"study": "sine", "window": 2, "architecture": "rnn1", "stateful is": "worse"},
        {
            "study": "sine",
            "window": 10,
            "architecture": "gru",
            "stateful is": "no significant difference",
            "warm is": "worse",
        },
    ]
    assert changed_verdicts(committed, rerun) == [
        "sine/w10/gru stateful: better -> no significant difference",
        "sine/w10/gru warm: none -> worse",
    ]
