"""Cutting a series into model inputs and targets."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def sliding_windows(series: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Windows of `length` consecutive values (stride 1) with the next value as target.

    series (n,) -> inputs (n - length, length, 1), targets (n - length,), float32.
    """
    if length < 1:
        raise ValueError(f"window length must be at least 1, got {length}")
    if len(series) <= length:
        raise ValueError(f"a window of {length} needs more than {length} points, got {len(series)}")
    inputs = sliding_window_view(series[:-1], length)[..., np.newaxis]
    return inputs.astype(np.float32), series[length:].astype(np.float32)
