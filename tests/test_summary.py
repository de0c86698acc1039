import numpy as np
import pytest

from forecastlab.numerics import fingerprint, fingerprint_id
from forecastlab.stats import diebold_mariano
from forecastlab.summary import (
    aggregate_rows,
    environments,
    has_stateful_forecasts,
    metrics_tree,
    parent_metrics,
    prediction_rows,
    spreads_by_model,
    stateful_answer,
    stateful_columns,
    stateful_tests,
    stateful_verdicts,
    summary_rows,
    verdict_count_rows,
    window_errors,
    write_csv,
)


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
ELSEWHERE = {**HERE, "cpu_isa": "sse2"}  # a machine unlike this one


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
    run = {"study": "book", "window": 50, "arch": "rnn1", "seed": 42}
    trained_here = {"history": {"loss": [1.0]}, "environment": HERE}
    rows = summary_rows(run, evaluation, trained_here, VERIFIED)
    assert [r["mode"] for r in rows] == ["stateless", "iterative"]
    assert rows[1]["mse_step_2"] == 3.0 and "mse_step_1" not in rows[0]
    assert rows[0]["trained"] == "stateless" and rows[0]["verify_max_abs_error"] == 3e-7
    assert "n" not in rows[0] and "per_horizon_mse" not in rows[1]
    assert rows[0]["fingerprint"] == fingerprint_id(HERE) and rows[0]["seed"] == 42
    untrained = {"history": {}, "environment": ELSEWHERE}
    stateful = summary_rows({**run, "arch": "stateful_rnn1"}, evaluation, untrained, VERIFIED)
    baseline = summary_rows({**run, "arch": "naive"}, evaluation, untrained, VERIFIED)
    assert stateful[0]["trained"] == "stateful" and baseline[0]["trained"] == "not trained"
    assert baseline[0]["fingerprint"] == f"{fingerprint_id(ELSEWHERE)}/{fingerprint_id(HERE)}"


def test_aggregates_give_each_metric_over_the_seeds_and_metrics_json_carries_them():
    def seed_rows(seed, mse, passed=True):
        evaluation = {"modes": {"stateless": metrics(mse)}, "environment": HERE}
        training = {"history": {"loss": [1.0]}, "final_val_loss": mse, "environment": HERE}
        run = {"study": "sine", "window": 2, "arch": "rnn1", "seed": seed}
        return summary_rows(run, evaluation, training, {**VERIFIED, "passed": passed})

    rows = seed_rows(42, 1.0) + seed_rows(43, 2.0) + seed_rows(44, 3.0, passed=False)
    aggregates = aggregate_rows(rows)
    mse = next(a for a in aggregates if a["metric"] == "mse")
    # mean 2, sd 1, t(0.975, 2) = 4.302653: the interval of test_stats.
    assert (mse["mean"], mse["sd"], mse["seeds"]) == (2.0, 1.0, 3)
    assert mse["high"] - mse["mean"] == pytest.approx(4.302653 / 3**0.5, rel=1e-6)
    assert mse["verified"] is False and mse["trained"] == "stateless"
    assert {a["metric"] for a in aggregates} >= {"mse", "rmse", "mae", "final_val_loss"}
    assert "seed" not in mse and "fingerprint" not in {a["metric"] for a in aggregates}
    tree = metrics_tree(aggregates, [], [r["fingerprint"] for r in rows])
    assert tree["fingerprint"] == fingerprint_id(HERE)
    model = tree["sine"]["w2"]["rnn1"]
    assert model["mse"]["stateless"]["mean"] == 2.0 and model["verified"] is False
    # Only what a reader compares: the MSEs, not every metric of every mode.
    assert set(model) == {"mse", "verified"} and set(model["mse"]["stateless"]) == {
        "mean",
        "low",
        "high",
    }
    # One seed: no interval, and JSON's null rather than NaN.
    alone = metrics_tree(aggregate_rows(seed_rows(42, 1.0)), [], ["f"])
    assert alone["sine"]["w2"]["rnn1"]["mse"]["stateless"] == {
        "mean": 1.0,
        "low": None,
        "high": None,
    }
    parent = parent_metrics(aggregates, None)
    assert parent["stateless_mse"] == 2.0 and parent["stateless_mse_sd"] == 1.0
    assert parent["val_loss"] == 2.0 and "stateless_verify_max_abs_error" not in parent


def test_spreads_read_back_from_the_aggregates_file_are_the_intervals_bit_for_bit(tmp_path):
    from forecastlab.stats import interval
    from forecastlab.views import read_table

    def seed_rows(arch, seed, mse):
        evaluation = {"modes": {"stateless": metrics(mse)}, "environment": HERE}
        training = {"history": {"loss": [1.0]}, "final_val_loss": mse / 3, "environment": HERE}
        run = {"study": "sine", "window": 2, "arch": arch, "seed": seed}
        return summary_rows(run, evaluation, training, VERIFIED)

    # Means and bounds of many digits, which a CSV reader must not move by a bit.
    values = [0.1, 0.2, 0.7000000000000001]
    rows = [row for seed, mse in enumerate(values) for row in seed_rows("rnn1", seed, mse)]
    write_csv(tmp_path / "aggregates.csv", aggregate_rows(rows + seed_rows("naive", 0, 0.3)))
    spreads = spreads_by_model(read_table(str(tmp_path / "aggregates.csv")))
    assert set(spreads) == {("sine", 2, "rnn1"), ("sine", 2, "naive")}
    rnn1 = spreads[("sine", 2, "rnn1")]["stateless"]
    assert rnn1["mse"] == interval(values)  # every key, exactly, n the seeds
    assert rnn1["final_val_loss"] == interval([value / 3 for value in values])
    naive = spreads[("sine", 2, "naive")]["stateless"]["mse"]
    assert naive["mean"] == 0.3 and naive["n"] == 1 and np.isnan(naive["low"])


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
                "seed": 42,
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
                "seed": 42,
                "mode": "stateless",
                "trained": "not trained",
                "mse": 1.0,
                "fingerprint": "f1",
            }
        ]
    )

    def test(ratio, p_value, label):
        return {
            "ratio": ratio,
            "ratio_low": ratio / 2,
            "ratio_high": ratio * 2,
            "p_value": p_value,
            "verdict": label,
        }

    tests = {
        ("sine", 2, "rnn1"): {
            "stateful": test(500.0, 1e-9, "worse"),
            "stateful_warm": test(250.0, 1e-6, "worse"),
            "stateful_reset_L": test(3.0, 0.2, "no significant difference"),
        },
        ("sine", 10, "rnn1"): dict.fromkeys(
            ["stateful", "stateful_warm", "stateful_reset_L"], test(0.5, 0.01, "better")
        ),
        ("sine", 10, "stateful_rnn1"): dict.fromkeys(
            ["stateful", "stateful_warm", "stateful_reset_L"],
            test(0.5, 0.3, "no significant difference"),
        ),
    }
    verdicts = stateful_verdicts(table, tests)
    assert [(v["window"], v["architecture"], v["stateful is"]) for v in verdicts] == [
        (2, "rnn1", "worse"),
        (10, "rnn1", "better"),
        (10, "stateful_rnn1", "no significant difference"),
    ]
    assert verdicts[0]["stateful / stateless"] == 500.0
    assert verdicts[0]["stateful / stateless low"] == 250.0 and verdicts[0]["seeds"] == 1
    assert verdicts[0]["warm / stateless"] == 250.0
    assert verdicts[0]["reset every L is"] == "no significant difference"
    assert verdicts[0]["stateful p (DM)"] == 1e-9
    assert {v["fingerprint"] for v in verdicts} == {"f1"}
    assert stateful_answer(verdicts, 0.05) == (
        "No: of 2 window-trained models, stateful prediction is worse for 1, better for 1, "
        "no significant difference for 0 (Diebold-Mariano test with the Harvey-Leybourne-"
        "Newbold correction, squared errors averaged over the seeds, level 0.05; 1 seed each)."
    )
    assert stateful_answer(verdicts[:1], 0.05).startswith("Yes, so far: of 1 window-trained")
    assert verdict_count_rows(verdicts) == [
        {"study": "sine", "trained": "stateless", "worse": 1, "no significant difference": 0}
        | {"better": 1},
        {"study": "sine", "trained": "stateful", "worse": 0, "no significant difference": 1}
        | {"better": 0},
    ]
    assert stateful_answer([], 0.05) == (
        "These params ask no stateful question: none of their models is a recurrent network "
        "forecasting one series one step ahead, the only kind with a state to carry."
    )
    only_stateful = [row for row in verdicts if row["trained"] == "stateful"]
    assert only_stateful
    assert stateful_answer(only_stateful, 0.05) == (
        "No model trained on windows has been evaluated statefully yet."
    )
    # The DVC metrics carry each model's verdicts and each study's answer.
    aggregates = [
        {"study": "sine", "window": window, "architecture": arch, "mode": mode}
        | {"metric": "mse", "mean": 1.0, "low": 0.5, "high": 1.5, "verified": True}
        for window, arch in ((2, "rnn1"), (10, "rnn1"), (10, "stateful_rnn1"))
        for mode in ("stateless", "stateful")
    ]
    tree = metrics_tree(aggregates, verdicts, ["f1"])
    assert tree["sine"]["w2"]["rnn1"]["verdicts"]["stateful"] == {"is": "worse", "p": 1e-9}
    assert tree["sine"]["w10"]["rnn1"]["verdicts"]["reset every L"]["is"] == "better"
    # The answer counts the window-trained models, as the index does.
    assert tree["sine"]["answer"]["stateful"] == {
        "worse": 1,
        "no significant difference": 0,
        "better": 1,
    }


def stateful_arrays(shift: float) -> dict:
    """A one-series evaluation: 4 windows of length 3 over 12 test steps; the stateful
    forecasts are the truth plus `shift`, the stateless ones the truth plus 0.1."""
    series = np.arange(12.0)
    positions = np.array([3, 5, 7, 9])
    forecasts = np.r_[series[1:], 0.0] + shift  # forecasts[t] forecasts step t + 1
    return {
        "test_series": series,
        "target_positions": positions,
        "test_targets": series[positions],
        "stateless": series[positions] + np.array([0.1, -0.1, 0.1, -0.1]),
        "stateful": forecasts,
        "stateful_warm": forecasts,
        "stateful_reset_L": forecasts * 0 + series.mean(),
    }


def test_window_errors_line_each_stateful_forecast_up_with_its_window_target():
    errors = window_errors(stateful_arrays(0.5))
    np.testing.assert_allclose(errors["stateless"], [0.1, -0.1, 0.1, -0.1])
    np.testing.assert_allclose(errors["stateful"], [0.5] * 4)
    np.testing.assert_allclose(errors["stateful_reset_L"], 5.5 - np.array([3, 5, 7, 9]))


def test_stateful_tests_give_the_ratio_the_dm_test_and_the_verdict():
    tests = stateful_tests([stateful_arrays(0.5)], 0.05)
    assert tests["stateful"]["ratio"] == pytest.approx(25.0)
    # Every squared-error difference is 0.25 - 0.01: (next to) no variance, so certain.
    assert tests["stateful"]["verdict"] == "worse" and tests["stateful"]["p_value"] < 1e-10
    assert tests["stateful_reset_L"]["verdict"] == "no significant difference"
    assert np.isnan(tests["stateful"]["ratio_low"]) and tests["stateful"]["seeds"] == 1
    columns = stateful_columns(tests)
    assert columns["stateful is"] == "worse" and columns["warm / stateless"] == pytest.approx(25)
    assert has_stateful_forecasts(stateful_arrays(0.5))
    naive = {k: v for k, v in stateful_arrays(0.5).items() if not k.startswith("stateful")}
    assert not has_stateful_forecasts(naive) and set(window_errors(naive)) == {"stateless"}


def test_seed_replicates_give_a_geometric_mean_ratio_its_interval_and_one_test():
    # Stateful errors 0.5, 0.6 and 0.4 against the stateless 0.1: ratios 25, 36 and 16.
    seeds = [stateful_arrays(shift) for shift in (0.5, 0.6, 0.4)]
    tests = stateful_tests(seeds, 0.05)["stateful"]
    assert tests["ratio"] == pytest.approx((25 * 36 * 16) ** (1 / 3))
    assert tests["ratio_low"] < 16 < 36 < tests["ratio_high"] and tests["seeds"] == 3
    # The test is the one of the seed-averaged differential (forecastlab.stats).
    errors = [window_errors(arrays) for arrays in seeds]
    expected = diebold_mariano(
        np.stack([e["stateful"] for e in errors]), np.stack([e["stateless"] for e in errors])
    )
    assert tests["p_value"] == expected["p_value"] and tests["verdict"] == "worse"


def test_fewer_than_three_windows_are_no_significant_difference_with_no_p_value():
    arrays = stateful_arrays(0.5)
    arrays["target_positions"], arrays["test_targets"] = np.array([3, 5]), np.array([3.0, 5.0])
    arrays["stateless"] = np.array([3.1, 4.9])
    test = stateful_tests([arrays], 0.05)["stateful"]
    assert test["verdict"] == "no significant difference" and test["n"] == 2
    assert np.isnan(test["p_value"]) and test["ratio"] == pytest.approx(25.0)
