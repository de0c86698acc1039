"""The tables and figures of the reports, on runs written as the pipeline writes them."""

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from forecastlab import views
from forecastlab.handcheck import forward
from forecastlab.io import read_json, write_json, write_npz
from forecastlab.layout import run_files, runs_of
from forecastlab.summary import (
    STATEFUL_MODES,
    aggregate_rows,
    stateful_columns,
    stateful_tests,
    stateful_verdicts,
    summary_rows,
    write_csv,
)

SERIES = np.sin(np.arange(30) / 3.0)
RNN1 = {"units": 1, "activation": "tanh", "output_activation": "linear", "target": "next"}
WEIGHTS = {
    "RNN/kernel": np.array([[0.7]]),
    "RNN/recurrent_kernel": np.array([[0.3]]),
    "RNN/bias": np.array([0.1]),
    "dense/kernel": np.array([[1.2]]),
    "dense/bias": np.array([-0.05]),
}


def metrics(mse, **extra):
    return {
        "mse": mse,
        "rmse": mse**0.5,
        "mae": mse,
        "rmse_orig": mse**0.5,
        "mase": 2 * mse,
        **extra,
    }


def write_run(
    study, window, arch, modes, history=None, arrays=None, target="next", seed=42, hidden=None
):
    """One model's files at the pipeline's paths (forecastlab.layout), cwd-relative;
    `hidden`: the hand pass's carried states the verify job keeps."""
    files = run_files(study, window, arch, seed)
    evaluation = {"window": window, "target": target, "horizon": 3, "modes": modes}
    write_json(files["eval"], evaluation | {"environment": {}})
    training = {"history": history or {}, "final_val_loss": 0.5, "environment": {}}
    write_json(files["history"], training)
    write_json(
        files["verify"],
        {
            "atol": 1e-5,
            "passed": True,
            "modes": {"stateless": {"max_abs_error": 1e-7, "n_compared": 5, "passed": True}},
        },
    )
    write_npz(files["predictions"], arrays or {"test_series": SERIES})
    write_npz(files["weights"], WEIGHTS)
    write_npz(files["hidden"], {} if hidden is None else {"stateful_hidden": hidden})


def read_back(studies):
    """The studies' runs as the study report reads them, with the aggregates the summarize
    job writes from their files (aggregates.csv, cwd-relative)."""
    rows = [
        row
        for run in runs_of(studies)
        for row in summary_rows(
            run, read_json(run["eval"]), read_json(run["history"]), read_json(run["verify"])
        )
    ]
    write_csv("aggregates.csv", aggregate_rows(rows))
    return views.read_runs(studies, views.read_table("aggregates.csv"))


SINE = {
    "windows": {"lengths": [2, 5]},
    "architectures": ["naive", "rnn1"],
    "models": {"naive": {}, "rnn1": RNN1 | {"seeds": 2}},
}


@pytest.fixture
def runs(tmp_path, monkeypatch):
    """A sine study of a naive baseline and rnn1 at windows 2 and 5, read back."""
    monkeypatch.chdir(tmp_path)
    hand, hidden = forward("rnn1", RNN1, WEIGHTS, SERIES.reshape(1, -1, 1), sequences=True)
    for window in (2, 5):
        positions = np.arange(window, len(SERIES))
        write_run("sine", window, "naive", {"stateless": metrics(0.4)})
        for seed, mse in ((42, 0.1), (43, 0.3)):  # two seeds of rnn1
            write_run(
                "sine",
                window,
                "rnn1",
                {"stateless": metrics(mse / window), "stateful": metrics(0.2)},
                history={"loss": [1.0, 0.5, 0.2], "val_loss": [1.1, 0.6, 0.3]},
                # Keras carries its states in float32, the hand pass in float64.
                arrays={
                    "test_series": SERIES,
                    "target_positions": positions,
                    "stateless": SERIES[positions] + 0.1,
                    "stateful": hand[0, :, 0],
                    "stateful_hidden": hidden[0].astype(np.float32),
                },
                seed=seed,
                hidden=hidden[0],
            )
    return read_back({"sine": SINE})


def test_read_runs_loads_every_file_of_every_model(runs):
    assert [(r["window"], r["arch"]) for r in runs] == [
        (2, "naive"),
        (2, "rnn1"),
        (5, "naive"),
        (5, "rnn1"),
    ]
    assert runs[1]["label"] == "rnn1, window 2" and runs[1]["seed"] == 42
    assert [seed["seed"] for seed in runs[1]["replicates"]] == [42, 43]
    assert len(runs[0]["replicates"]) == 1  # a baseline has one
    assert runs[1]["training"]["history"]["loss"] == [1.0, 0.5, 0.2]
    np.testing.assert_array_equal(runs[1]["arrays"]["test_series"], SERIES)


def test_comparison_has_a_row_per_model_and_mode_with_the_best_in_bold(runs):
    rows = views.comparison_rows(runs)
    assert len(rows) == 6  # naive: stateless; rnn1: stateless and stateful; two windows
    assert {(r["architecture"], r["window"], r["mode"]) for r in rows} >= {("rnn1", 5, "stateful")}
    html = views.highlighted(rows, views.ERROR_COLUMNS).to_html()
    # rnn1 w5's mean of 0.1 / 5 and 0.3 / 5 over its two seeds.
    assert html.count("font-weight: bold") >= 1 and "0.040000" in html
    rnn1 = next(
        r for r in rows if (r["architecture"], r["window"], r["mode"]) == ("rnn1", 5, "stateless")
    )
    # t(0.975, 1 df) = 12.706: mean 0.04, sd 0.02 * sqrt(2), half-width 12.706 * 0.02.
    assert rnn1["seeds"] == 2 and rnn1["MSE 95% interval"] == "-0.214 to 0.294"
    assert rows[0]["MSE 95% interval"] == "one seed"


def test_the_key_figure_draws_a_bar_per_model_and_window_and_the_stateful_points(runs):
    figure = views.mse_figure(runs)
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == [0.04, 0.1, 0.4, 0.4]  # rnn1: the means over its seeds
    points = [c for c in ax.collections if isinstance(c, PathCollection)]  # not the intervals
    stateful = sorted(y for c in points for y in c.get_offsets()[:, 1] if np.isfinite(y))
    assert stateful == [0.2, 0.2]
    assert ax.get_yscale() == "log" and ax.get_title() == "Forecasts of the next value"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["naive", "rnn1"]
    assert views.mse_figure([]) is None


def test_multi_step_forecasts_are_shown_apart_from_one_step_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_run("book", 5, "naive", {"stateless": metrics(0.1), "iterative": metrics(0.5)})
    write_run("book", 5, "seq2vec", {"direct": metrics(0.3)}, target="horizon")
    spec = {
        "windows": {"lengths": [5]},
        "architectures": ["naive", "seq2vec"],
        "models": {"naive": {}, "seq2vec": {"target": "horizon"}},
    }
    runs = read_back({"book": spec})
    kinds = {run["arch"]: {k: mode for k, (mode, _) in views.scores(run).items()} for run in runs}
    assert kinds == {
        "naive": {"next value": "stateless", "next 3 values": "iterative"},
        "seq2vec": {"next 3 values": "direct"},
    }
    titles = [ax.get_title() for ax in views.mse_figure(runs).axes]
    assert titles == ["Forecasts of the next 3 values", "Forecasts of the next value"]


def test_loss_one_step_and_hidden_state_figures(runs):
    assert len(views.loss_figure(runs).axes) == 2  # the two trained rnn1
    assert views.loss_figure([r for r in runs if r["arch"] == "naive"]) is None
    assert len(views.one_step_figure(runs).axes) == 2  # one panel per window
    hidden = views.hidden_state_figure(runs)
    keras_line, hand_line = hidden.axes[0].get_lines()
    # The verify job's float64 states, as it kept them; Keras's float32 ones beside them.
    kept = np.load(runs[1]["hidden"])["stateful_hidden"]
    np.testing.assert_array_equal(hand_line.get_ydata(), kept[:, 0])
    assert hand_line.get_ydata().dtype == np.float64
    np.testing.assert_allclose(hand_line.get_ydata(), keras_line.get_ydata(), rtol=1e-6)


def test_a_study_without_multi_step_or_dropout_models_has_neither(runs):
    assert views.horizon_rows(runs) == [] and views.horizon_figure(runs) is None
    assert views.dropout_rows(runs) == [] and views.dropout_figure(runs) is None


def test_multi_step_and_dropout_tables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    panel = np.tile(np.arange(8.0), (3, 1))
    write_run(
        "book",
        5,
        "seq2vec",
        {"direct": metrics(0.3, per_horizon_mse=[0.1, 0.2, 0.3])},
        arrays={"test_series": panel, "stateless": np.ones((3, 3))},
        target="horizon",
    )
    mc = {"mse": 0.2, "samples": 10, "coverage_95": 0.9}
    write_run(
        "book",
        5,
        "mc_rnn",
        {"stateless": metrics(0.25), "mc_dropout": mc},
        arrays={
            "test_series": panel,
            "stateless": np.ones(3),
            "test_targets": np.zeros(3),
            **{f"mc_{q}": np.full(3, v) for q, v in (("mean", 0.5), ("lower", 0), ("upper", 1))},
        },
    )
    spec = {
        "windows": {"lengths": [5]},
        "architectures": ["seq2vec", "mc_rnn"],
        "models": {"seq2vec": {"target": "horizon"}, "mc_rnn": {}},
    }
    runs = read_back({"book": spec})
    assert views.horizon_rows(runs) == [
        {
            "architecture": "seq2vec",
            "window": 5,
            "strategy": "direct",
            "seeds": 1,
            "t+1": 0.1,
            "t+2": 0.2,
            "t+3": 0.3,
        }
    ]
    assert views.step_columns(views.horizon_rows(runs)) == ["t+1", "t+2", "t+3"]
    assert views.step_columns([]) == []
    truth = views.horizon_figure(runs).axes[1].get_lines()[-1]
    np.testing.assert_array_equal(truth.get_ydata(), [5.0, 6.0, 7.0])  # after the window
    assert views.dropout_rows(runs)[0]["95% interval coverage"] == 0.9
    assert len(views.dropout_figure(runs).axes) == 1


def test_the_tables_and_figure_show_the_aggregates_the_summarize_job_wrote(runs):
    # Every mean and bound the summarize job wrote, times 10: the report shows those.
    written = views.read_table("aggregates.csv")
    scaled = [
        row | {key: 10 * row[key] for key in ("mean", "low", "high")}
        if row["metric"] in ("mse", "final_val_loss")
        else row
        for row in written
    ]
    shown = views.read_runs({"sine": SINE}, scaled)
    rnn1 = next(
        r
        for r in views.comparison_rows(shown)
        if (r["architecture"], r["window"], r["mode"]) == ("rnn1", 5, "stateless")
    )
    assert rnn1["MSE"] == pytest.approx(0.4) and rnn1["final val_loss"] == pytest.approx(5.0)
    assert rnn1["MSE 95% interval"] == "-2.14 to 2.94"
    heights = sorted(round(p.get_height(), 6) for p in views.mse_figure(shown).axes[0].patches)
    assert heights == [0.4, 1.0, 4.0, 4.0]
    # A model the summarize job did not aggregate is a missing row, not a recomputation.
    with pytest.raises(KeyError):
        views.read_runs({"sine": SINE}, [row for row in written if row["architecture"] != "naive"])


def test_verification_rows_name_the_result(runs):
    rows = views.verification_rows(runs)
    assert len(rows) == 6 and {r["result"] for r in rows} == {"passed"}  # rnn1: per seed
    assert [r["seed"] for r in rows if r["architecture"] == "rnn1"] == [42, 43, 42, 43]
    assert rows[0]["tolerance"] == 1e-5


def test_the_answer_figure_places_every_model_by_its_ratio_and_verdict():
    cases = [(2.0, "worse", "stateless"), (0.5, "better", "stateful")]
    cases += [(1.01, "no significant difference", "stateless"), (3.0, "worse", "stateless")]
    verdicts = [
        {"study": "a", "window": w, "architecture": "rnn1", "trained": trained}
        | {"stateful / stateless": r, "stateful is": v}
        | {"stateful / stateless low": r / 2, "stateful / stateless high": r * 2}
        for w, (r, v, trained) in enumerate(cases)
    ]
    ax = views.answer_figure(verdicts).axes[0]
    assert ax.get_xscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        "worse: 2 stateless-trained",
        "better: 1 stateful-trained",
        "no significant difference: 1 stateless-trained",
    ]
    points, _, (bars,) = ax.containers[0].lines  # the worse ones: markers and intervals
    assert sorted(points.get_xdata()) == [2.0, 3.0]
    assert sorted((seg[0][0], seg[1][0]) for seg in bars.get_segments()) == [(1, 4), (1.5, 6)]
    assert views.answer_figure([]) is None


def test_links_escape_titles_and_paths():
    assert views.links({"a<b": "x.html", "c": 'y".html'}) == (
        '<ul><li><a href="x.html">a&lt;b</a></li><li><a href="y&quot;.html">c</a></li></ul>'
    )


def test_an_mse_axis_starts_nine_decades_below_its_top_and_marks_bars_below_as_zero():
    import matplotlib.pyplot as plt

    from forecastlab.views import _floor

    figure, ax = plt.subplots()
    ax.bar([0, 1, 2], [1e-25, 1e-4, 1e-2])
    ax.set_yscale("log")
    _floor(ax, 1e-2)
    assert ax.get_ylim()[0] == pytest.approx(1e-11)
    assert [(text.get_text(), text.get_position()[0]) for text in ax.texts] == [("~0", 0)]
    plt.close(figure)


def comparison_tables(tmp_path):
    """The comparison tables of a small study as summarize writes them, read back."""
    from forecastlab.claims import claim_rows
    from forecastlab.comparison import Candidate, compare
    from forecastlab.summary import write_csv

    rng = np.random.default_rng(0)
    scales = {"naive": 2.0, "linear": 1.0, "rnn1": 1.02, "lstm": 3.0}
    found = [
        Candidate(
            "s",
            2,
            arch,
            "stateless",
            "next value",
            scale * rng.normal(size=(1, 300)),
            np.zeros(300),
            True,
        )
        for arch, scale in scales.items()
    ]
    pairwise, members = compare(found, 0.05, {"seed": 1, "reps": 200, "block_size": None})
    for name, rows in (
        ("pairwise", pairwise),
        ("mcs", members),
        ("claims", claim_rows(pairwise, {"s": "sine"})),
    ):
        write_csv(tmp_path / f"{name}.csv", rows)
    return (
        views.read_table(str(tmp_path / f"{name}.csv")) for name in ("pairwise", "mcs", "claims")
    )


def test_the_best_models_are_the_confidence_set_not_the_lowest_mean(tmp_path):
    pairwise, members, claims = comparison_tables(tmp_path)
    (best,) = views.best_model_rows(members, "s")
    table = views.confidence_set_table(members, "s")
    # linear and rnn1 forecast alike (error sd 1 and 1.02): the set holds both, lowest
    # MSE first with MCS p-value 1.
    assert {row["architecture"] for row in table[:2]} == {"linear", "rnn1"}
    assert [row["in the set"] for row in table] == ["yes", "yes", "no", "no"]
    assert [row["architecture"] for row in table[2:]] == ["naive", "lstm"]
    first, second = (row["architecture"] for row in table[:2])
    assert best["best models (MCS p-value)"].startswith(f"{first} (1), {second} (")
    assert best["in the set"] == "2 of 4" and best["lowest MSE"].startswith(f"{first} (")
    assert views.best_model_rows(members, "other") == []


def test_the_pairwise_matrix_and_its_figure(tmp_path):
    pairwise, _, _ = comparison_tables(tmp_path)
    models, p, sign = views.pairwise_matrix(pairwise)
    assert set(models[:2]) == {"linear", "rnn1"} and models[2:] == ["naive", "lstm"]  # by MSE
    assert np.isnan(p[0, 0]) and p[0, 3] == p[3, 0] < 1e-4
    # linear is better than lstm (+1 on linear's row), lstm worse (-1 on its row).
    assert sign[0, 3] == 1 and sign[3, 0] == -1 and sign[1, 1] == 0
    figure = views.pairwise_figure(pairwise, 0.05, "s")
    assert isinstance(figure, Figure)
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert len(texts) == 12 and "<1e-4" in texts
    assert views.pairwise_figure(pairwise, 0.05, "other") is None
    assert [views.p_text(x) for x in (0.5, 0.012345, 1e-9, float("nan"))] == [
        "0.5",
        "0.012",
        "<1e-4",
        "–",
    ]


def test_the_claims_table(tmp_path):
    _, _, claims = comparison_tables(tmp_path)
    table = {row["models compared"]: row for row in views.claim_table(claims)}
    lstm = table["lstm vs rnn1 (next value)"]
    assert lstm["tested on"] == "s, window 2" and lstm["verdict"] == "does not hold"
    assert lstm["source"].startswith("003")
    assert table["wavenet vs every other model (next 10 values)"]["verdict"] == "not run"
    assert table["wavenet vs every other model (next 10 values)"]["p-value (Holm)"] == "–"


def test_count_names_one_and_many():
    assert views.count(1, "model") == "1 model"
    assert views.count(3, "model") == "3 models"
    assert views.count(0, "run") == "0 runs"
    assert views.count(2, "study", "studies") == "2 studies"
    assert views.count(1, "study", "studies") == "1 study"


def test_a_study_reads_its_verdicts_as_the_summarize_job_wrote_them(tmp_path):
    # Two models of one study and one of another, their tests as summarize runs them.
    series = np.arange(12.0)
    positions = np.array([3, 5, 7, 9])
    arrays = {
        "test_series": series,
        "target_positions": positions,
        "test_targets": series[positions],
        "stateless": series[positions] + np.array([0.1, -0.1, 0.1, -0.1]),
    } | dict.fromkeys(STATEFUL_MODES, np.r_[series[1:], 0.0] + 0.5)
    models = [("sine", 10, "rnn1"), ("sine", 2, "gru"), ("other", 2, "rnn1")]
    rows = [
        {"study": s, "window": w, "architecture": a, "trained": "stateless", "mode": mode}
        | {"mse": 0.25, "fingerprint": "f"}
        for s, w, a in models
        for mode in ("stateless", "stateful")
    ]
    tests = {model: stateful_tests([arrays], 0.05) for model in models}
    write_csv(tmp_path / "verdicts.csv", stateful_verdicts(rows, tests))
    shown = views.study_verdict_rows(views.read_table(str(tmp_path / "verdicts.csv")), "sine")
    assert [(row["window"], row["architecture"]) for row in shown] == [(2, "gru"), (10, "rnn1")]
    assert list(shown[0]) == list(views.STUDY_VERDICT_COLUMNS)
    expected = stateful_columns(tests[models[0]])
    assert {k: shown[0][k] for k in expected} == pytest.approx(expected, nan_ok=True)
    assert shown[0]["stateful is"] == "worse" and shown[0]["seeds"] == 1
