"""forecastlab.computations_steps: a model's first steps by hand against Keras, real Keras."""

from __future__ import annotations

import numpy as np
import pytest

from forecastlab import computations_steps
from forecastlab.computations import COMPARISON_COLUMNS, DIFFERENCE, HAND, KERAS
from forecastlab.computations_case import load_case
from forecastlab.computations_runs import choose_runs
from tests.computations_layout import ATOL, KERAS_WARNINGS

pytestmark = pytest.mark.filterwarnings(KERAS_WARNINGS)


@pytest.mark.parametrize("part", ["A", "B", "C", "D", "E"])
def test_steps_by_hand_equal_keras(in_computations_layout, part):
    run = choose_runs(in_computations_layout)[part]
    case = load_case(part, run)
    computation = computations_steps.compute_steps(case, steps=3, units=2)
    table = computation.comparison
    assert list(table.columns[-3:]) == list(COMPARISON_COLUMNS)
    assert computation.max_difference < ATOL
    np.testing.assert_allclose(table[HAND], table[KERAS], rtol=0, atol=ATOL)
    assert table[DIFFERENCE].max() <= computation.max_difference
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
        details.loc[details["unit"] < 2].iloc[:, -1].to_numpy(), last[HAND], atol=1e-12
    )


def test_a_wrong_weight_is_caught(in_computations_layout):
    run = choose_runs(in_computations_layout)["D"]
    case = load_case("D", run)
    key = "LSTM_1/bias"
    case.weights = {**case.weights, key: case.weights[key] + np.float32(1e-3)}
    assert computations_steps.compute_steps(case).max_difference > ATOL


def test_equations_are_html_not_latex(in_computations_layout):
    case = load_case("E", choose_runs(in_computations_layout)["E"])
    text = computations_steps.equations(case)
    assert "<sub>t&minus;1</sub>" in text and "$" not in text and "\\" not in text
    assert "reset_after=True" in text
