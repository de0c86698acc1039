"""DVC's plots: long rows a panel per model, and a page that renders without network."""

from __future__ import annotations

import numpy as np

from forecastlab.dvcplots import OFFLINE_TEMPLATE, curve_rows, forecast_rows, offline_template
from tests.conftest import REPO


def test_curve_rows_are_long_rows_per_epoch_from_one_and_only_the_curves_trained():
    rows = curve_rows("w2/rnn1", {"loss": [3.0, 2.0], "val_loss": [4.0, 1.0]})
    assert rows == [
        {"model": "w2/rnn1", "epoch": 1, "curve": "loss", "value": 3.0},
        {"model": "w2/rnn1", "epoch": 2, "curve": "loss", "value": 2.0},
        {"model": "w2/rnn1", "epoch": 1, "curve": "val_loss", "value": 4.0},
        {"model": "w2/rnn1", "epoch": 2, "curve": "val_loss", "value": 1.0},
    ]
    # A statefully trained model validates nothing: no val_loss rows (DVC warned of a
    # missing field when each model had a file of its own).
    assert {r["curve"] for r in curve_rows("w2/stateful_rnn1", {"loss": [1.0]})} == {"loss"}
    assert curve_rows("w2/naive", {}) == []  # a baseline learns nothing


def test_forecast_rows_put_truth_and_each_forecast_at_the_step_forecast():
    series = np.arange(300.0)
    arrays = {
        "test_series": series,
        "target_positions": np.array([3, 6, 99, 100]),
        "stateless": series[[3, 6, 99, 100]] + 0.5,
        "stateful": np.append(series[1:], 99.0) + 0.25,  # stateful[t] forecasts step t + 1
    }
    rows = forecast_rows("w3/rnn1", arrays)
    assert {r["step"] for r in rows} == {3, 6, 99}  # the first 100 test steps
    by_line = {(r["step"], r["line"]): r["value"] for r in rows}
    assert by_line[(6, "truth")] == 6.0 and by_line[(6, "stateless")] == 6.5
    assert by_line[(6, "stateful")] == 6.25
    without = forecast_rows("w3/linear", {k: v for k, v in arrays.items() if k != "stateful"})
    assert {r["line"] for r in without} == {"truth", "stateless"}


def test_the_committed_offline_page_is_the_pinned_packages_and_loads_nothing():
    page = (REPO / OFFLINE_TEMPLATE).read_text(encoding="utf-8")
    assert page == offline_template(), "rerun: python -m forecastlab.dvcplots"
    assert page.count("{plot_divs}") == 1 and "{scripts}" not in page
    assert "<script src" not in page and "cdn." not in page
    assert "vegaEmbed" in page


def test_a_long_curve_is_drawn_with_at_most_curve_points_epochs_first_and_last_among_them():
    from forecastlab.dvcplots import CURVE_POINTS

    rows = curve_rows("w10/rnn1", {"loss": [1.0 / e for e in range(1, 1001)]})
    epochs = [r["epoch"] for r in rows]
    assert len(epochs) == CURVE_POINTS and epochs[0] == 1 and epochs[-1] == 1000
    assert epochs == sorted(set(epochs))
    assert all(r["value"] == float(f"{1.0 / r['epoch']:.6g}") for r in rows)
