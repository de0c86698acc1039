"""forecastlab.computations_demos: the second and fourth tutorials' examples, real Keras."""

from __future__ import annotations

import numpy as np
import pytest

from forecastlab import computations_demos as demos
from forecastlab.computations import KERAS
from tests.computations_layout import ATOL, KERAS_WARNINGS

pytestmark = pytest.mark.filterwarnings(KERAS_WARNINGS)


def test_linear_rnn_demo_and_stateful_memory():
    demo = demos.linear_rnn_demo(seed=1)
    assert demo.max_difference < ATOL
    assert demo.weights.set_index("weight").loc["RNN/recurrent_kernel", "tutorial's name"] == "wh"
    assert set(demo.weights["weight"]) == {
        "RNN/kernel",
        "RNN/recurrent_kernel",
        "RNN/bias",
        "dense/kernel",
        "dense/bias",
    }
    stateful = demos.stateful_demo(seed=1, calls=3)
    assert stateful.max_difference < ATOL
    outputs = stateful.comparison.pivot(index="call", columns="index", values=KERAS)
    # the state carries over: the same input gives other outputs on each call
    assert not np.allclose(outputs.loc[1], outputs.loc[2])
    first = demo.comparison[demo.comparison["value"] == "o_t (t)"][KERAS].to_numpy()
    np.testing.assert_allclose(outputs.loc[1].to_numpy(), first, atol=1e-6)


def test_basic_rnn_cell_demo():
    demo = demos.basic_rnn_cell_demo(seed=1)
    assert demo.max_difference < ATOL
    assert len(demo.comparison) == 3 * 2 * 6 + 3 * 6
    assert demos.X_BATCH.shape == (3, 2, 4) and demos.X_BATCH[0, 1].tolist() == [9, 8, 7, 4]
    assert set(demo.weights["shape"]) == {"(4, 6)", "(6, 6)", "(6,)"}
