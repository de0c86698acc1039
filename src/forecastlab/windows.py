"""Cutting series into model inputs and targets.

A window strategy has two names from params.yaml:
- the cut: `sliding` (a window starting at every step), `non_overlapping` (stride equal
  to the length, as in the sunspots tutorial), or `series` (a study of many short series,
  each one window, as in the textbook);
- the targets: `next` (the value after the window), `shifted` (the window moved one step
  ahead, seq-to-seq), `horizon` (the next H values), `shifted_horizon` (the textbook's
  seq-to-seq multi-horizon targets, Y[t, k] = series[start + t + k + 1]).
Windows are cut from one split part at a time, so none crosses a split boundary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

CUTS = ("sliding", "non_overlapping", "series")
TARGETS = ("next", "shifted", "horizon", "shifted_horizon")


def target_offsets(length: int, targets: str, horizon: int = 1) -> np.ndarray:
    """Positions of the targets relative to a window's first input.

    next: () -> L; shifted: (L,) -> 1..L; horizon: (H,) -> L..L+H-1;
    shifted_horizon: (L, H) -> t + k + 1.
    """
    if targets == "next":
        return np.array(length)
    if targets == "shifted":
        return np.arange(1, length + 1)
    if targets == "horizon":
        return np.arange(length, length + horizon)
    if targets == "shifted_horizon":
        return np.arange(length)[:, None] + np.arange(horizon)[None, :] + 1
    raise ValueError(f"unknown targets {targets!r}; known: {', '.join(TARGETS)}")


def window_span(length: int, targets: Sequence[str], horizon: int = 1) -> int:
    """Points one window covers: its `length` inputs and the last of its targets."""
    return max(int(target_offsets(length, kind, horizon).max()) + 1 for kind in targets)


def cut_windows(
    series: np.ndarray, length: int, cut: str, targets: Sequence[str], horizon: int = 1
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Windows of one part: inputs, targets of each kind, and where each window starts.

    series (n,) for `sliding` and `non_overlapping`, or (n_series, T) for `series`.
    Every kind shares the same windows: those with room for all the targets asked for.
    Returns inputs (m, L, 1); targets by kind, (m,) for next, (m, L, 1) for shifted,
    (m, H) for horizon, (m, L, H) for shifted_horizon; starts (m,) (0 for `series`).
    """
    if length < 1:
        raise ValueError(f"window length must be at least 1, got {length}")
    offsets = {kind: target_offsets(length, kind, horizon) for kind in targets}
    span = window_span(length, targets, horizon)
    if cut == "series":
        if series.ndim != 2 or series.shape[1] < span:
            raise ValueError(
                f"windows of {length} with targets {', '.join(targets)} need series of at "
                f"least {span} steps, got shape {series.shape}"
            )
        starts = np.zeros(len(series), dtype=np.int64)
        inputs = series[:, :length]
        values = {
            kind: series[:, o.reshape(-1)].reshape(len(series), *o.shape)
            for kind, o in offsets.items()
        }
    elif cut in ("sliding", "non_overlapping"):
        if len(series) < span:
            raise ValueError(
                f"a window of {length} and its targets need {span} points, got {len(series)}"
            )
        stride = 1 if cut == "sliding" else length
        starts = np.arange(0, len(series) - span + 1, stride)
        inputs = series[starts[:, None] + np.arange(length)]
        values = {
            kind: series[starts.reshape(-1, *([1] * o.ndim)) + o] for kind, o in offsets.items()
        }
    else:
        raise ValueError(f"unknown cut {cut!r}; known: {', '.join(CUTS)}")
    values = {kind: v.astype(np.float32) for kind, v in values.items()}
    if "shifted" in values:
        values["shifted"] = values["shifted"][..., np.newaxis]
    return inputs[..., np.newaxis].astype(np.float32), values, starts


def sliding_windows(series: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """The first tutorial's windows: stride 1, next value as target.

    series (n,) -> inputs (n - length, length, 1), targets (n - length,).
    """
    inputs, targets, _ = cut_windows(series, length, "sliding", ["next"])
    return inputs, targets["next"]


def model_targets(
    windows: Mapping[str, np.ndarray], part: str, target: str, steps: slice = slice(None)
) -> np.ndarray:
    """A part's targets of one kind, shaped as a model outputs them: next (n, 1),
    horizon (n, H), shifted (n, L', 1), shifted_horizon (n, L', H), where `steps` picks
    the L' steps a model's per-step outputs line up with."""
    values = windows[f"{part}_targets_{target}"]  # shifted ones are already (n, L, 1)
    if target == "next":
        return values[:, None]
    if target in ("shifted", "shifted_horizon"):
        values = values[:, steps]
    return values


def horizon_of(windows: Mapping[str, np.ndarray]) -> int:
    """The number of values the horizon targets of a windows file hold (1 without them)."""
    for kind in ("horizon", "shifted_horizon"):
        if f"train_targets_{kind}" in windows:
            return int(windows[f"train_targets_{kind}"].shape[-1])
    return 1
