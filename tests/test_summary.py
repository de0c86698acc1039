import numpy as np

from forecastlab.summary import loss_rows, metrics_entry, prediction_rows


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
