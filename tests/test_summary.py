import numpy as np

from forecastlab.numerics import fingerprint, fingerprint_id
from forecastlab.summary import (
    environments,
    loss_rows,
    metrics_tree,
    prediction_rows,
    stateful_answer,
    stateful_verdicts,
    summary_rows,
    write_csv,
)


def test_loss_rows_count_epochs_from_one():
    rows = loss_rows({"loss": [3.0, 2.0], "val_loss": [4.0, 1.0]})
    assert rows == [
        {"epoch": 1, "loss": 3.0, "val_loss": 4.0},
        {"epoch": 2, "loss": 2.0, "val_loss": 1.0},
    ]


def test_prediction_rows_align_forecasts_with_the_step_they_forecast():
    series = np.arange(10.0)
    arrays = {
        "test_series": series,
        "target_positions": np.array([3, 6, 9]),  # non-overlapping windows of 3
        "stateless": series[[3, 6, 9]] + 0.5,
        "stateful": np.append(series[1:], 99.0) + 0.25,  # stateful[t] forecasts step t + 1
    }
    rows = prediction_rows(arrays, upto=8)
    assert [r["step"] for r in rows] == [3, 6]
    for row in rows:
        assert row["stateless"] == row["truth"] + 0.5
        assert row["stateful"] == row["truth"] + 0.25


VERIFIED = {
    "passed": True,
    "modes": {"stateless": {"max_abs_error": 1e-7}, "stateful": {"max_abs_error": 3e-7}},
}


HERE = fingerprint()
ELSEWHERE = {**HERE, "cpu_isa": "sse4_2 avx avx2 fma"}


def metrics(mse, **extra):
    return {"mse": mse, "rmse": mse**0.5, "mae": mse, "n": 4, **extra}


def test_fingerprint_names_the_machine_the_pin_and_the_versions():
    assert {"cpu", "cpu_isa", "baseline", "pinned", "python", "keras", "numpy"} <= set(HERE)
    assert "ONEDNN_MAX_CPU_ISA=AVX2" in HERE["pinned"]
    assert fingerprint() == HERE and fingerprint_id(HERE) == fingerprint_id(dict(HERE))
    assert fingerprint_id(ELSEWHERE) != fingerprint_id(HERE)
    assert environments(
        [{"environment": HERE}, {"environment": ELSEWHERE}, {"environment": HERE}]
    ) == {
        fingerprint_id(HERE): HERE,
        fingerprint_id(ELSEWHERE): ELSEWHERE,
    }


def test_summary_rows_one_per_mode_with_per_horizon_columns():
    evaluation = {
        "modes": {
            "stateless": metrics(1.0),
            "iterative": metrics(2.0, per_horizon_mse=[1.0, 3.0]),
        }
    }
    evaluation["environment"] = HERE
    run = {"study": "book", "window": 50, "arch": "rnn1"}
    trained_here = {"history": {"loss": [1.0]}, "environment": HERE}
    rows = summary_rows(run, evaluation, trained_here, VERIFIED)
    assert [r["mode"] for r in rows] == ["stateless", "iterative"]
    assert rows[1]["mse_step_2"] == 3.0 and "mse_step_1" not in rows[0]
    assert rows[0]["trained"] == "stateless" and rows[0]["verify_max_abs_error"] == 3e-7
    assert "n" not in rows[0] and "per_horizon_mse" not in rows[1]
    assert rows[0]["fingerprint"] == fingerprint_id(HERE)
    untrained = {"history": {}, "environment": ELSEWHERE}
    stateful = summary_rows({**run, "arch": "stateful_rnn1"}, evaluation, untrained, VERIFIED)
    baseline = summary_rows({**run, "arch": "naive"}, evaluation, untrained, VERIFIED)
    assert stateful[0]["trained"] == "stateful" and baseline[0]["trained"] == "not trained"
    assert baseline[0]["fingerprint"] == f"{fingerprint_id(ELSEWHERE)}/{fingerprint_id(HERE)}"
    tree = metrics_tree(rows)
    assert tree["fingerprint"] == fingerprint_id(HERE)
    assert "fingerprint" not in tree["book"]["w50"]["rnn1"]["stateless"]
    assert tree["book"]["w50"]["rnn1"]["iterative"]["mse_step_1"] == 1.0
    assert "trained" not in tree["book"]["w50"]["rnn1"]["stateless"]


def test_write_csv_takes_every_column_in_first_seen_order(tmp_path):
    write_csv(tmp_path / "t.csv", [{"a": 1, "b": 2}, {"a": 3, "c": 4}])
    assert (tmp_path / "t.csv").read_text().splitlines() == ["a,b,c", "1,2,", "3,,4"]


def test_stateful_verdicts_and_the_answer():
    def rows(study, window, arch, stateless, stateful, trained="stateless"):
        modes = {
            "stateless": stateless,
            "stateful": stateful,
            "stateful_warm": stateful / 2,
            "stateful_reset_L": stateless * 3,
        }
        return [
            {
                "study": study,
                "window": window,
                "architecture": arch,
                "mode": mode,
                "trained": trained,
                "mse": mse,
                "fingerprint": "f1",
            }
            for mode, mse in modes.items()
        ]

    table = (
        rows("sine", 2, "rnn1", 1.0, 500.0)
        + rows("sine", 10, "rnn1", 2.0, 1.0)
        + rows("sine", 10, "stateful_rnn1", 2.0, 1.0, trained="stateful")
        + [
            {
                "study": "sine",
                "window": 2,
                "architecture": "naive",
                "mode": "stateless",
                "trained": "not trained",
                "mse": 1.0,
                "fingerprint": "f1",
            }
        ]
    )
    verdicts = stateful_verdicts(table)
    assert [(v["window"], v["architecture"], v["stateful is"]) for v in verdicts] == [
        (2, "rnn1", "worse"),
        (10, "rnn1", "not worse"),
        (10, "stateful_rnn1", "not worse"),
    ]
    assert verdicts[0]["stateful / stateless"] == 500.0
    assert verdicts[0]["warm / stateless"] == 250.0
    assert verdicts[0]["reset every L / stateless"] == 3.0
    assert {v["fingerprint"] for v in verdicts} == {"f1"}
    assert stateful_answer(verdicts) == (
        "No: stateful prediction is not worse for 1 of 2 window-trained models (sine w10 rnn1)."
    )
    assert stateful_answer(verdicts[:1]) == (
        "Yes, so far: stateful prediction is worse for all 1 window-trained models."
    )
    assert stateful_answer([]) == "No model trained on windows has been evaluated statefully yet."
