import math

import numpy as np
import pytest

from forecastlab.comparison import (
    PAIRWISE_COLUMNS,
    SET_COLUMNS,
    Candidate,
    candidates,
    compare,
    comparison_tree,
    confidence_set_rows,
    groups,
    pairwise_rows,
    parent_comparison,
    set_members,
)
from forecastlab.stats import diebold_mariano, loss_difference_test

MCS = {"seed": 1, "reps": 200, "block_size": None}


def candidate(arch, errors, targets=None, one_series=True, kind="next value"):
    errors = np.atleast_2d(np.asarray(errors, float))
    targets = np.zeros(errors.shape[1]) if targets is None else np.asarray(targets, float)
    return Candidate("s", 2, arch, "stateless", kind, errors, targets, one_series)


def test_one_series_next_value_and_per_step_models_compete_on_the_last_step():
    series = np.arange(10.0)
    positions = np.array([4, 6, 8])
    next_model = {
        "test_series": series,
        "target_positions": positions,
        "test_targets": series[positions],
        "stateless": series[positions] + 0.5,
    }
    (found,) = candidates("s", 4, "linear", "next", 1, [next_model])
    assert (found.kind, found.mode, found.one_series) == ("next value", "stateless", True)
    np.testing.assert_array_equal(found.errors, [[0.5, 0.5, 0.5]])
    # A per-step model (L = 4 steps forecast per window): its last step.
    per_step = {
        **next_model,
        "test_targets": np.stack([series[p - 3 : p + 1] for p in positions]),
        "stateless": np.stack([series[p - 3 : p + 1] for p in positions]) - 1.0,
    }
    (last,) = candidates("s", 4, "td_dense", "shifted", 1, [per_step, per_step])
    np.testing.assert_array_equal(last.targets, series[positions])
    assert last.errors.shape == (2, 3) and last.kind == "next value"
    assert list(groups([found, last])) == [("s", 4, "next value")]


def test_multi_step_strategies_compete_on_the_same_next_h_values():
    rng = np.random.default_rng(0)
    series = rng.normal(size=(6, 8))  # a panel: 6 series of 8 steps, window 5, H 3
    truth = series[:, 5:8]
    one_step = {
        "test_series": series,
        "test_targets": series[:, 5],
        "stateless": series[:, 5] + 0.1,
        "iterative": truth + 0.2,
    }
    found = candidates("p", 5, "linear", "next", 3, [one_step])
    assert [(c.kind, c.mode) for c in found] == [
        ("next value", "stateless"),
        ("next 3 values", "iterative"),
    ]
    np.testing.assert_array_equal(found[1].targets, truth)
    direct = {"test_series": series, "test_targets": truth, "stateless": truth - 0.3}
    (seq2vec,) = candidates("p", 5, "seq2vec", "horizon", 3, [direct])
    per_step = np.stack([truth] * 5, axis=1)  # (n, L, H): the last step's are the targets
    (seq2seq,) = candidates(
        "p",
        5,
        "seq2seq",
        "shifted_horizon",
        3,
        [{**direct, "test_targets": per_step, "stateless": per_step}],
    )
    assert (seq2vec.mode, seq2seq.mode) == ("direct", "seq2seq")
    assert not seq2vec.one_series and dict(groups([*found, seq2vec, seq2seq])).keys() == {
        ("p", 5, "next value"),
        ("p", 5, "next 3 values"),
    }
    # The loss of a multi-step forecast: the squared error averaged over the steps ahead.
    np.testing.assert_allclose(found[1].losses, np.full(6, 0.04))
    np.testing.assert_allclose(seq2seq.losses, np.zeros(6))


def test_candidates_of_other_targets_are_refused():
    a = candidate("linear", [[1.0, 2.0, 3.0]], targets=[0.0, 0.0, 0.0])
    b = candidate("rnn1", [[1.0, 2.0, 3.0]], targets=[0.0, 1.0, 0.0])
    with pytest.raises(ValueError) as error:
        groups([a, b])
    assert str(error.value) == (
        "s/w2: rnn1 (stateless) forecasts other targets of the next value than linear (stateless)"
    )


def test_pairwise_tests_worked_by_hand():
    # Errors A, 1 and 2 on five targets: d(A, B) = [0, 3, 8, 0, 3] (stats' worked example:
    # p 0.13); d(B, C) = -3 at every target, no spread: B better, p 0; d(A, C) = [-3, 0,
    # 5, -3, 0].
    a = candidate("a", [1.0, 2.0, 3.0, 1.0, 2.0])
    b = candidate("b", np.ones(5))
    c = candidate("c", np.full(5, 2.0))
    rows = pairwise_rows([a, b, c], 0.05)
    assert [(r["model a"], r["model b"]) for r in rows] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert tuple(rows[0]) == PAIRWISE_COLUMNS  # as a table of no pairs heads its columns
    ab = loss_difference_test(np.array([0.0, 3.0, 8.0, 0.0, 3.0]))
    ac = loss_difference_test(np.array([-3.0, 0.0, 5.0, -3.0, 0.0]))
    assert rows[0]["statistic"] == ab["statistic"] and rows[0]["p"] == ab["p_value"]
    assert rows[2]["statistic"] == -math.inf and rows[2]["p"] == 0.0
    # Holm over the three pairs: 0 -> 0; then the smaller of the other two times 2, the
    # larger times 1 (but not below the one before).
    smaller, larger = sorted([ab["p_value"], ac["p_value"]])
    assert rows[2]["p (Holm)"] == 0.0
    assert min(rows[0]["p (Holm)"], rows[1]["p (Holm)"]) == pytest.approx(min(1, 2 * smaller))
    assert max(rows[0]["p (Holm)"], rows[1]["p (Holm)"]) == pytest.approx(
        max(min(1, 2 * smaller), larger)
    )
    assert [r["a is"] for r in rows] == [
        "no significant difference",
        "no significant difference",
        "better",
    ]
    assert rows[0]["MSE a"] == pytest.approx(19 / 5) and rows[0]["MSE b"] == 1.0


def test_seeds_are_averaged_before_the_test_as_diebold_mariano_does():
    rng = np.random.default_rng(5)
    errors_a, errors_b = rng.normal(0, 1.2, (3, 40)), rng.normal(0, 1.0, (3, 40))
    (row,) = pairwise_rows([candidate("a", errors_a), candidate("b", errors_b)], 0.05)
    test = diebold_mariano(errors_a, errors_b)
    assert row["statistic"] == pytest.approx(test["statistic"], rel=1e-12)
    assert row["p"] == pytest.approx(test["p_value"], rel=1e-9)
    assert row["seeds a"] == 3 and row["targets"] == 40 and row["lag"] == 1


def test_h_step_forecasts_of_one_series_test_with_lag_h():
    errors = np.random.default_rng(6).normal(size=(2, 30, 4))
    targets = np.zeros((30, 4))
    one = [candidate(x, e[None], targets) for x, e in zip("ab", errors, strict=True)]
    panel = [candidate(x, e[None], targets, False) for x, e in zip("ab", errors, strict=True)]
    assert pairwise_rows(one, 0.05)[0]["lag"] == 4 and pairwise_rows(panel, 0.05)[0]["lag"] == 1


def test_the_confidence_set_of_a_group_and_its_bootstrap_settings():
    rng = np.random.default_rng(8)
    best = rng.chisquare(1, 400)
    group = [
        candidate("worse", 2 * rng.normal(size=400)),
        candidate("best", np.sqrt(best)),
        candidate("tie", rng.normal(size=400)),
    ]
    rows = confidence_set_rows(group, 0.05, MCS)
    assert tuple(rows[0]) == SET_COLUMNS  # as a table of no models heads its columns
    assert [(r["model"], r["in set"]) for r in rows] == [
        ("worse", False),
        ("best", True),
        ("tie", True),
    ]
    assert rows[0]["rank"] == 3 and {rows[1]["rank"], rows[2]["rank"]} == {1, 2}
    assert {r["block"] for r in rows} == {20}  # sqrt(400) on one series
    assert confidence_set_rows(group, 0.05, {**MCS, "block_size": 3})[0]["block"] == 3
    panel = [
        Candidate("s", 2, c.architecture, c.mode, c.kind, c.errors, c.targets, False) for c in group
    ]
    assert confidence_set_rows(panel, 0.05, MCS)[0]["block"] == 1
    (members,) = set_members(rows).values()  # lowest MSE first
    assert members == sorted(
        ["best", "tie"], key=lambda m: next(r["rank"] for r in rows if r["model"] == m)
    )


def test_too_few_targets_exclude_no_model():
    group = [candidate("a", [[1.0]], [0.0]), candidate("b", [[2.0]], [0.0])]
    rows = confidence_set_rows(group, 0.05, MCS)
    assert all(r["in set"] and math.isnan(r["MCS p"]) for r in rows)
    (pair,) = pairwise_rows(group, 0.05)
    assert math.isnan(pair["p (Holm)"]) and pair["a is"] == "no significant difference"


def test_metrics_and_mlflow_hold_the_set():
    rng = np.random.default_rng(9)
    group = [candidate("a", rng.normal(size=100)), candidate("b", 3 * rng.normal(size=100))]
    pairwise, members = compare(group, 0.05, MCS)
    tree = comparison_tree(members, pairwise)
    assert tree["s"]["w2"]["confidence_set"] == {"next_value": "a"}
    assert tree["s"]["w2"]["pairwise"] == {"next_value": {"pairs": 1, "significant": 1}}
    assert tree["s"]["w2"]["a"]["mcs"]["next_value"] == {"in": True, "p": 1.0}
    assert tree["s"]["w2"]["b"]["mcs"]["next_value"]["in"] is False
    # As track_models reads them back from the CSV.
    as_read = [{k: str(v) for k, v in members[1].items()}]
    metrics, tags = parent_comparison(as_read)
    assert metrics["mcs_next_value_in_set"] == 0.0 and tags == {"mcs.next_value": "excluded"}
    assert metrics["mcs_next_value_p_value"] == float(members[1]["MCS p"])
