"""forecastlab.computations_runs: which trained model each part explains, from its plan."""

from __future__ import annotations

from forecastlab import computations_runs as runs
from forecastlab.architectures import plan
from forecastlab.layout import runs_of
from tests.computations_layout import STUDIES, names


def test_choose_runs_follows_the_plans():
    chosen = names(runs.choose_runs(runs_of(STUDIES)))
    assert chosen == {
        "A": "walk/w5/td_dense",
        "B": "sine/w2/rnn1",  # window-trained before stateful_rnn1; relu_rnn comes later
        "C": "book/w5/seq2seq",
        "D": "book/w5/lstm",
        "E": "book/w5/gru",
    }


def test_choose_runs_prefers_window_trained_and_deeper_stacks():
    only_stateful = {"sine": {**STUDIES["sine"], "architectures": ["stateful_rnn1", "rnn1"]}}
    assert names(runs.choose_runs(runs_of(only_stateful)))["B"] == "sine/w2/rnn1"
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
    chosen = names(runs.choose_runs(runs_of(studies)))
    assert chosen == {
        "A": None,
        "B": None,
        "C": "s/w4/deep_rnn_dense",  # without dropout before mc_rnn
        "D": "t/w4/lstm",  # two layers before one
        "E": "s/w4/gru",  # conv_gru has a Conv1D
    }


def test_part_matches():
    seq2seq = plan("seq2seq", {"units": [2, 2], "target": "shifted_horizon"}, 5, 3)
    assert runs.part_matches("C", seq2seq)
    assert not runs.part_matches("B", seq2seq)
    assert runs.part_matches("A", plan("td_dense", {"target": "shifted"}, 5))
    assert not runs.part_matches("A", plan("linear", {}, 5))
    assert not runs.part_matches("C", plan("ln_rnn", {"units": [2, 2]}, 5))
