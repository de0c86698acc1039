"""Series generation, reading and chronological splitting."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def sine_wave(period: int, cycles: int, noise: float, seed: int) -> np.ndarray:
    """The first tutorial's wave: sin(2*pi*t/period + U(-1, 1)*noise), t = 0..period*cycles.

    Returns shape (period * cycles + 1,), float64.
    """
    t = np.arange(period * cycles + 1)
    phase_noise = np.random.default_rng(seed).uniform(-1.0, 1.0, size=t.shape) * noise
    return np.sin(t * (2 * np.pi / period) + phase_noise)


def write_series(path: str | Path, values: np.ndarray) -> None:
    """Write a 1-D series as CSV with columns t,value (float repr round-trips exactly)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["t", "value"])
        for t, value in enumerate(values):
            writer.writerow([t, repr(float(value))])


def read_series(path: str | Path) -> np.ndarray:
    """Read the `value` column of a t,value CSV; a bad row raises naming the file and line."""
    values = []
    with open(path, newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != ["t", "value"]:
            raise ValueError(f"{path}:1: expected header 't,value', got {header}")
        for line, row in enumerate(reader, start=2):
            if len(row) != 2:
                raise ValueError(f"{path}:{line}: expected 2 fields, got {len(row)}")
            try:
                values.append(float(row[1]))
            except ValueError:
                raise ValueError(f"{path}:{line}: value {row[1]!r} is not a number") from None
    return np.asarray(values, dtype=np.float64)


def chronological_split(series: np.ndarray, test_share: float) -> tuple[np.ndarray, np.ndarray]:
    """Split (n,) into the first (1 - test_share) part and the rest, as the tutorial does.

    The training part has int(n * (1 - test_share)) points.
    """
    if not 0.0 < test_share < 1.0:
        raise ValueError(f"test_share must lie strictly between 0 and 1, got {test_share}")
    n_train = int(len(series) * (1.0 - test_share))
    return series[:n_train], series[n_train:]
