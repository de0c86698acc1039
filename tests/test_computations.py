"""forecastlab.computations: the fifth tutorial's parts on tiny seeded models, real Keras."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import forecastlab  # noqa: F401  (pins the numerics before TensorFlow)
from forecastlab import computations as fc
from forecastlab.architectures import plan
from forecastlab.io import write_json, write_npz
from forecastlab.layout import runs_of, windows_file

REPO = Path(__file__).resolve().parents[1]
# Keras's own conversions under numpy 2 (model.save, Variable.numpy), not this module's.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
TEMPLATE = REPO / "workflow" / "notebooks" / "computations_report.ipynb"
ATOL = 1e-5
TRAINING = {
    "optimizer": "adam",
    "learning_rate": 0.001,
    "batch_size": 8,
    "epochs": 2,
    "validation_split": 0.0,
}
# A tiny copy of the tiny pipeline's models: windows of 5 (walk, book) and 2 (sine).
STUDIES = {
    "sine": {
        "windows": {"lengths": [2], "targets": ["next"]},
        "architectures": ["naive", "rnn1", "stateful_rnn1"],
        "models": {
            "naive": {},
            "rnn1": {"units": 1, "activation": "tanh", **TRAINING},
            "stateful_rnn1": {"units": 1, "activation": "tanh", **TRAINING},
        },
    },
    "walk": {
        "windows": {"lengths": [5], "targets": ["shifted"]},
        "architectures": ["relu_rnn", "td_dense"],
        "models": {
            "relu_rnn": {
                "units": 3,
                "activation": "relu",
                "target": "shifted",
                "loss": "sse",
                **TRAINING,
            },
            "td_dense": {"target": "shifted", "loss": "sse", **TRAINING},
        },
    },
    "book": {
        "windows": {"lengths": [5], "targets": ["shifted_horizon"], "horizon": 2},
        "architectures": ["seq2seq", "lstm", "gru"],
        "models": {
            arch: {"units": units, "target": "shifted_horizon", **TRAINING}
            for arch, units in (("seq2seq", [3, 3]), ("lstm", [2, 2]), ("gru", 3))
        },
    },
}


def make_layout(root: Path, studies: dict = STUDIES, seed: int = 3) -> list[dict]:
    """Windows, seeded weights (biases too, so every bias is checked), model.keras,
    weights.npz and history.json under `root`, as the pipeline lays them out."""
    from forecastlab.models import build_model, compile_model, export_weights

    rng = np.random.default_rng(seed)
    for study, spec in studies.items():
        for length in spec["windows"]["lengths"]:
            horizon = spec["windows"].get("horizon", 1)
            n = 3
            windows = {"test_inputs": rng.normal(size=(n, length, 1)).astype(np.float32)}
            for part in ("train", "test"):
                windows[f"{part}_targets_next"] = rng.normal(size=n).astype(np.float32)
                windows[f"{part}_targets_shifted"] = rng.normal(size=(n, length, 1))
                if horizon > 1:
                    windows[f"{part}_targets_shifted_horizon"] = rng.normal(
                        size=(n, length, horizon)
                    )
            write_npz(root / windows_file(study, length), windows)
    runs = runs_of(studies)
    for run in runs:
        if run["arch"] == "naive":
            continue
        horizon = studies[run["study"]]["windows"].get("horizon", 1)
        model = build_model(run["arch"], run["hyperparams"], run["window"], horizon=horizon)
        for layer in model.layers:
            if layer.weights:
                layer.set_weights(
                    [rng.normal(0, 0.6, w.shape).astype(np.float32) for w in layer.get_weights()]
                )
        compile_model(model, run["hyperparams"])
        path = root / run["model"]
        path.parent.mkdir(parents=True, exist_ok=True)
        model.save(path)
        write_npz(root / run["weights"], export_weights(model))
        history = {"loss": [2.0, 1.5]}
        write_json(root / run["history"], {"history": history, "final_loss": 1.5})
    return runs


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp("repo")
    return root, make_layout(root)


@pytest.fixture
def in_layout(layout, monkeypatch) -> list[dict]:
    root, runs = layout
    monkeypatch.chdir(root)
    return runs


def names(chosen: dict) -> dict:
    return {
        part: run and f"{run['study']}/w{run['window']}/{run['arch']}"
        for part, run in chosen.items()
    }


def test_choose_runs_follows_the_plans():
    chosen = names(fc.choose_runs(runs_of(STUDIES)))
    assert chosen == {
        "A": "walk/w5/td_dense",
        "B": "sine/w2/rnn1",  # window-trained before stateful_rnn1; relu_rnn comes later
        "C": "book/w5/seq2seq",
        "D": "book/w5/lstm",
        "E": "book/w5/gru",
    }


def test_choose_runs_prefers_window_trained_and_deeper_stacks():
    only_stateful = {"sine": {**STUDIES["sine"], "architectures": ["stateful_rnn1", "rnn1"]}}
    assert names(fc.choose_runs(runs_of(only_stateful)))["B"] == "sine/w2/rnn1"
    studies = {
        "s": {
            "windows": {"lengths": [4]},
            "architectures": ["lstm", "gru", "conv_gru", "mc_rnn", "deep_rnn_dense"],
            "models": {
                "lstm": {"units": 3},
                "gru": {"units": [2, 2, 2]},
                "conv_gru": {"units": [2], "filters": 2, "kernel_size": 2, "strides": 1},
                "mc_rnn": {"units": [2, 2], "dropout": 0.2},
                "deep_rnn_dense": {"units": [2, 2]},
            },
        },
        "t": {
            "windows": {"lengths": [4]},
            "architectures": ["lstm"],
            "models": {"lstm": {"units": [2, 2]}},
        },
    }
    chosen = names(fc.choose_runs(runs_of(studies)))
    assert chosen == {
        "A": None,
        "B": None,
        "C": "s/w4/deep_rnn_dense",  # without dropout before mc_rnn
        "D": "t/w4/lstm",  # two layers before one
        "E": "s/w4/gru",  # conv_gru has a Conv1D
    }


def test_part_matches():
    seq2seq = plan("seq2seq", {"units": [2, 2], "target": "shifted_horizon"}, 5, 3)
    assert fc.part_matches("C", seq2seq)
    assert not fc.part_matches("B", seq2seq)
    assert fc.part_matches("A", plan("td_dense", {"target": "shifted"}, 5))
    assert not fc.part_matches("A", plan("linear", {}, 5))
    assert not fc.part_matches("C", plan("ln_rnn", {"units": [2, 2]}, 5))


@pytest.mark.parametrize("part", ["A", "B", "C", "D", "E"])
def test_steps_by_hand_equal_keras(in_layout, part):
    run = fc.choose_runs(in_layout)[part]
    case = fc.load_case(part, run)
    computation = fc.compute_steps(case, steps=3, units=2)
    table = computation.comparison
    assert list(table.columns[-3:]) == list(fc.COMPARISON_COLUMNS)
    assert computation.max_difference < ATOL
    np.testing.assert_allclose(table[fc.HAND], table[fc.KERAS], rtol=0, atol=ATOL)
    assert table[fc.DIFFERENCE].max() <= computation.max_difference
    steps = min(3, run["window"])
    assert sorted(table["t"].unique()) == list(range(1, steps + 1))
    # every layer's every unit of those steps, LSTM cell states too
    assert computation.n_compared == sum(
        steps * int(layer.config.get("units", case.horizon)) * (2 if layer.kind == "lstm" else 1)
        for layer in case.layers
    )
    # the decomposition by hand ends where the comparison's by-hand values do
    title, details = computation.details[-1]
    last = table[table["layer"] == case.layers[-1].name]
    np.testing.assert_allclose(
        details.loc[details["unit"] < 2].iloc[:, -1].to_numpy(), last[fc.HAND], atol=1e-12
    )


def test_a_wrong_weight_is_caught(in_layout):
    run = fc.choose_runs(in_layout)["D"]
    case = fc.load_case("D", run)
    key = "LSTM_1/bias"
    case.weights = {**case.weights, key: case.weights[key] + np.float32(1e-3)}
    assert fc.compute_steps(case).max_difference > ATOL


def test_gru_bias_rows_and_lstm_gate_blocks(in_layout):
    chosen = fc.choose_runs(in_layout)
    gru = fc.weights_table(fc.load_case("E", chosen["E"])).set_index("weight")
    assert gru.loc["GRU/bias", "shape"] == "(2, 9)"
    assert "row 0 input bias, row 1 recurrent bias" in gru.loc["GRU/bias", "gate blocks"]
    assert (
        "0-2: z (update gate), 3-5: r (reset gate), 6-8: h" in gru.loc["GRU/kernel", "gate blocks"]
    )
    lstm = fc.weights_table(fc.load_case("D", chosen["D"])).set_index("weight")
    assert lstm.loc["LSTM_2/kernel", "shape"] == "(2, 8)"
    assert lstm.loc["LSTM_1/kernel", "shape"] == "(1, 8)"
    assert lstm.loc["LSTM_1/recurrent_kernel", "gate blocks"].startswith(
        "columns 0-1: i (input gate), 2-3: f (forget gate), 4-5: c (cell candidate), 6-7: o"
    )


def test_definition_and_training(in_layout):
    case = fc.load_case("C", fc.choose_runs(in_layout)["C"])
    layers = fc.model_layers(case).set_index("layer")
    assert layers.loc["RNN_1", "Keras class"] == "SimpleRNN"
    assert layers.loc["RNN_1", "parameters"] == 1 * 3 + 3 * 3 + 3
    assert layers.loc["dense", "Keras class"] == "TimeDistributed(Dense)"
    assert layers.loc["dense", "output shape"] == "(None, 5, 2)"
    assert layers.loc["total", "parameters"] == case.model.count_params()
    settings = fc.training_settings(case).set_index("setting")["value"]
    assert settings["optimizer"] == "adam" and settings["final loss"] == "1.5"
    shapes = fc.inputs_outputs(case).set_index("array")["shape"]
    assert shapes["x"] == "(1, 5, 1)" and shapes["test inputs"] == "(3, 5, 1)"
    assert shapes["y = model.predict(x)"] == "(1, 5, 2)"


def test_equations_are_html_not_latex(in_layout):
    case = fc.load_case("E", fc.choose_runs(in_layout)["E"])
    text = fc.equations(case)
    assert "<sub>t&minus;1</sub>" in text and "$" not in text and "\\" not in text
    assert "reset_after=True" in text


def test_part_without_a_model_says_so():
    report = fc.part_report("D", None, ATOL)
    assert len(report.intro) == 1 and "No model" in report.intro[0]
    assert report.passed is None and not report.computations


def test_verdict():
    assert "passed" in fc.verdict(1e-7, ATOL) and "FAILED" in fc.verdict(1e-3, ATOL)


def test_linear_rnn_demo_and_stateful_memory():
    demo = fc.linear_rnn_demo(seed=1)
    assert demo.max_difference < ATOL
    assert demo.weights.set_index("weight").loc["RNN/recurrent_kernel", "tutorial's name"] == "wh"
    assert set(demo.weights["weight"]) == {
        "RNN/kernel",
        "RNN/recurrent_kernel",
        "RNN/bias",
        "dense/kernel",
        "dense/bias",
    }
    stateful = fc.stateful_demo(seed=1, calls=3)
    assert stateful.max_difference < ATOL
    outputs = stateful.comparison.pivot(index="call", columns="index", values=fc.KERAS)
    # the state carries over: the same input gives other outputs on each call
    assert not np.allclose(outputs.loc[1], outputs.loc[2])
    first = demo.comparison[demo.comparison["value"] == "o_t (t)"][fc.KERAS].to_numpy()
    np.testing.assert_allclose(outputs.loc[1].to_numpy(), first, atol=1e-6)


def test_basic_rnn_cell_demo():
    demo = fc.basic_rnn_cell_demo(seed=1)
    assert demo.max_difference < ATOL
    assert len(demo.comparison) == 3 * 2 * 6 + 3 * 6
    assert fc.X_BATCH.shape == (3, 2, 4) and fc.X_BATCH[0, 1].tolist() == [9, 8, 7, 4]
    assert set(demo.weights["shape"]) == {"(4, 6)", "(6, 6)", "(6,)"}


class Tables(HTMLParser):
    """Every <table>'s header and body cells, as text."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append("".join(self.cell).strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def comparisons(page: str) -> list[pd.DataFrame]:
    parser = Tables()
    parser.feed(page)
    found = []
    for rows in parser.tables:
        header = rows[0]
        if fc.HAND in header:
            found.append(pd.DataFrame(rows[1:], columns=header))
    return found


@pytest.mark.slow
def test_report_renders(layout, monkeypatch):
    from forecastlab.reporting import render_report

    root, _ = layout
    monkeypatch.chdir(root)
    render_report(
        TEMPLATE,
        root / "reports" / "computations.ipynb",
        root / "reports" / "computations.html",
        {"studies": STUDIES, "atol": ATOL},
    )
    page = (root / "reports" / "computations.html").read_text()
    # what a reader sees: the exporter's own scripts and styles (a MathJax loader) dropped
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", body))
    for part, title in fc.PART_TITLES.items():
        section = text.split(f"Part {part}: {title}")[-1]
        for heading in fc.HEADINGS:
            assert heading in section, (part, heading)
    for model in ("walk/w5/td_dense", "sine/w2/rnn1", "book/w5/seq2seq", "book/w5/lstm"):
        assert model in text
    assert "BasicRNNCell" in text and "stateful" in text and "X_batch" in text
    assert "passed" in text and "FAILED" not in text
    assert "Warning" not in text and "Traceback" not in text and str(root) not in page
    assert "$" not in text and "\\(" not in text  # equations in HTML, not LaTeX
    tables = comparisons(page)
    assert len(tables) >= 5 + 3
    for table in tables:
        assert list(table.columns[-3:]) == list(fc.COMPARISON_COLUMNS)
        hand = table[fc.HAND].astype(float).to_numpy()
        keras_values = table[fc.KERAS].astype(float).to_numpy()
        np.testing.assert_allclose(hand, keras_values, rtol=0, atol=ATOL)
