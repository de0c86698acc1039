import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forecastlab.data import chronological_split, split_sizes
from forecastlab.windows import TARGETS, cut_windows, sliding_windows, target_offsets


def test_tutorial_window_counts():
    # Sine: the tutorial's 3750 training points with windows of 2 give 3748 windows.
    inputs, targets = sliding_windows(np.arange(3750.0), 2)
    assert inputs.shape == (3748, 2, 1) and targets.shape == (3748,)
    assert inputs.dtype == np.float32
    # Sunspots: 2256 training months, non-overlapping windows of 12 -> 187, target after each.
    inputs, targets, starts = cut_windows(np.arange(2256.0), 12, "non_overlapping", ["next"])
    assert inputs.shape == (187, 12, 1) and np.array_equal(starts, np.arange(0, 2244, 12))
    assert np.array_equal(targets["next"], np.arange(12, 2245, 12))
    # Random walk: 201 training points -> (10, 20, 1) windows and shifted targets.
    inputs, targets, _ = cut_windows(np.arange(201.0), 20, "non_overlapping", ["shifted"])
    assert inputs.shape == targets["shifted"].shape == (10, 20, 1)
    assert np.array_equal(targets["shifted"], inputs + 1)


def test_textbook_seq_to_seq_targets():
    series = np.arange(3 * 60, dtype=np.float64).reshape(3, 60)
    inputs, targets, _ = cut_windows(
        series, 50, "series", ["next", "horizon", "shifted_horizon"], 10
    )
    assert inputs.shape == (3, 50, 1)
    assert np.array_equal(targets["next"], series[:, 50])
    assert np.array_equal(targets["horizon"], series[:, 50:60])
    seq = targets["shifted_horizon"]
    assert seq.shape == (3, 50, 10)
    for t, k in [(0, 0), (0, 9), (49, 9), (17, 4)]:
        assert np.array_equal(seq[:, t, k], series[:, t + k + 1])


@given(
    n=st.integers(2, 400),
    length=st.integers(1, 40),
    cut=st.sampled_from(["sliding", "non_overlapping"]),
    kinds=st.sets(st.sampled_from(TARGETS), min_size=1),
    horizon=st.integers(1, 6),
    test_share=st.floats(0.05, 0.6),
    validation_share=st.floats(0.0, 0.3),
)
def test_windows_stay_inside_their_part_and_targets_follow_inputs(
    n, length, cut, kinds, horizon, test_share, validation_share
):
    kinds = sorted(kinds)
    try:
        sizes = split_sizes(n, test_share, validation_share)
    except ValueError:
        return
    # Values are the global positions, so a window's values tell where it was cut from.
    parts = chronological_split(np.arange(n, dtype=np.float64), sizes)
    bounds = np.cumsum((0, *sizes))
    for index, part in enumerate(parts.values()):
        span = max(int(target_offsets(length, k, horizon).max()) + 1 for k in kinds)
        if len(part) < span:
            with pytest.raises(
                ValueError, match=f"a window of {length} and its targets need {span} points"
            ):
                cut_windows(part, length, cut, kinds, horizon)
            continue
        inputs, targets, starts = cut_windows(part, length, cut, kinds, horizon)
        low, high = bounds[index], bounds[index + 1]
        assert inputs.shape == (len(starts), length, 1)
        assert np.diff(starts).tolist() == [1 if cut == "sliding" else length] * (len(starts) - 1)
        assert np.array_equal(inputs[:, :, 0], low + starts[:, None] + np.arange(length))
        for kind, values in targets.items():
            assert len(values) == len(inputs)
            assert values.min() >= low and values.max() < high  # never across a boundary
            expected = inputs[:, :1, 0].reshape(-1, *[1] * (values.ndim - 1)) + target_offsets(
                length, kind, horizon
            ).reshape(values.shape[1:])
            assert np.array_equal(values, expected)


def test_bad_lengths_and_names():
    with pytest.raises(ValueError, match="window length must be at least 1, got 0"):
        sliding_windows(np.arange(10.0), 0)
    with pytest.raises(ValueError, match="a window of 10 and its targets need 11 points, got 10"):
        sliding_windows(np.arange(10.0), 10)
    with pytest.raises(ValueError, match="need series of at least 60 steps, got shape \\(4, 51\\)"):
        cut_windows(np.zeros((4, 51)), 50, "series", ["horizon"], 10)
    with pytest.raises(ValueError, match="unknown cut 'random'"):
        cut_windows(np.arange(10.0), 2, "random", ["next"])
    with pytest.raises(ValueError, match="unknown targets 'previous'"):
        cut_windows(np.arange(10.0), 2, "sliding", ["previous"])
