import numpy as np

from forecastlab.summary import (
    loss_rows,
    metrics_entry,
    prediction_rows,
    stateful_answer,
    stateful_verdicts,
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


def test_metrics_entry_reports_the_worst_verification_error():
    evaluation = {
        "modes": {"stateless": {"mse": 1.0}, "stateful": {"mse": 2.0}},
        "stateful_to_stateless_mse": 2.0,
    }
    verification = {
        "passed": True,
        "modes": {"stateless": {"max_abs_error": 1e-7}, "stateful": {"max_abs_error": 3e-7}},
    }
    entry = metrics_entry(evaluation, {"final_val_loss": 0.5}, verification)
    assert entry == {
        "final_val_loss": 0.5,
        "stateless_mse": 1.0,
        "stateful_mse": 2.0,
        "stateful_to_stateless_mse": 2.0,
        "verify_max_abs_error": 3e-7,
        "verified": True,
    }


def test_stateful_verdicts_and_the_answer():
    def entry(stateless, stateful):
        return {
            "stateless_mse": stateless,
            "stateful_mse": stateful,
            "stateful_to_stateless_mse": stateful / stateless,
        }

    metrics = {"sine": {"w2": {"rnn1": entry(1.0, 500.0)}, "w10": {"rnn1": entry(2.0, 1.0)}}}
    verdicts = stateful_verdicts(metrics)
    assert [(v["window"], v["stateful is"]) for v in verdicts] == [(2, "worse"), (10, "not worse")]
    assert verdicts[0]["stateful / stateless"] == 500.0
    assert stateful_answer(verdicts) == (
        "No: stateful prediction is not worse for 1 of 2 trained models (sine w10 rnn1)."
    )
    assert stateful_answer(verdicts[:1]) == (
        "Yes, so far: stateful prediction is worse for all 1 trained models."
    )
    assert stateful_answer([]) == "No model has been trained yet."
