"""forecastlab.computations_case: a trained model's files read and laid out, real Keras."""

from __future__ import annotations

import pytest

from forecastlab import computations_case as case_tables
from forecastlab.computations_runs import choose_runs
from tests.computations_layout import KERAS_WARNINGS

pytestmark = pytest.mark.filterwarnings(KERAS_WARNINGS)


def test_gru_bias_rows_and_lstm_gate_blocks(in_computations_layout):
    chosen = choose_runs(in_computations_layout)
    gru = case_tables.weights_table(case_tables.load_case("E", chosen["E"])).set_index("weight")
    assert gru.loc["GRU/bias", "shape"] == "(2, 9)"
    assert "row 0 input bias, row 1 recurrent bias" in gru.loc["GRU/bias", "gate blocks"]
    assert (
        "0-2: z (update gate), 3-5: r (reset gate), 6-8: h" in gru.loc["GRU/kernel", "gate blocks"]
    )
    lstm = case_tables.weights_table(case_tables.load_case("D", chosen["D"])).set_index("weight")
    assert lstm.loc["LSTM_2/kernel", "shape"] == "(2, 8)"
    assert lstm.loc["LSTM_1/kernel", "shape"] == "(1, 8)"
    assert lstm.loc["LSTM_1/recurrent_kernel", "gate blocks"].startswith(
        "columns 0-1: i (input gate), 2-3: f (forget gate), 4-5: c (cell candidate), 6-7: o"
    )


def test_definition_and_training(in_computations_layout):
    case = case_tables.load_case("C", choose_runs(in_computations_layout)["C"])
    layers = case_tables.model_layers(case).set_index("layer")
    assert layers.loc["RNN_1", "Keras class"] == "SimpleRNN"
    assert layers.loc["RNN_1", "parameters"] == 1 * 3 + 3 * 3 + 3
    assert layers.loc["dense", "Keras class"] == "TimeDistributed(Dense)"
    assert layers.loc["dense", "output shape"] == "(None, 5, 2)"
    assert layers.loc["total", "parameters"] == case.model.count_params()
    settings = case_tables.training_settings(case).set_index("setting")["value"]
    assert settings["optimizer"] == "adam" and settings["final loss"] == "1.5"
    shapes = case_tables.inputs_outputs(case).set_index("array")["shape"]
    assert shapes["x"] == "(1, 5, 1)" and shapes["test inputs"] == "(3, 5, 1)"
    assert shapes["y = model.predict(x)"] == "(1, 5, 2)"
