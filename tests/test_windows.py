import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forecastlab.windows import sliding_windows


def test_tutorial_window_counts():
    # The tutorial's 3750 training points with windows of 2 give 3748 windows.
    inputs, targets = sliding_windows(np.arange(3750.0), 2)
    assert inputs.shape == (3748, 2, 1) and targets.shape == (3748,)
    assert inputs.dtype == np.float32


@given(n=st.integers(2, 300), length=st.integers(1, 50))
def test_targets_follow_their_inputs(n, length):
    series = np.arange(n, dtype=np.float64)
    if n <= length:
        with pytest.raises(
            ValueError, match=f"a window of {length} needs more than {length} points"
        ):
            sliding_windows(series, length)
        return
    inputs, targets = sliding_windows(series, length)
    assert inputs.shape == (n - length, length, 1)
    # Every window holds consecutive values and its target is the value right after.
    assert np.array_equal(inputs[:, :, 0], np.arange(length) + np.arange(n - length)[:, None])
    assert np.array_equal(targets, inputs[:, -1, 0] + 1)


def test_zero_length_is_rejected():
    with pytest.raises(ValueError, match="window length must be at least 1, got 0"):
        sliding_windows(np.arange(10.0), 0)
