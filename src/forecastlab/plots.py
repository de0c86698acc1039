"""Small figures logged with each MLflow run, so the UI shows a model's curves."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # files only: jobs run without a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def loss_figure(history: Mapping[str, list[float]], title: str) -> Figure:
    """Each per-epoch series of `history` ({"loss": [...], ...}) on a log scale."""
    figure, ax = plt.subplots(figsize=(6, 3.5))
    for key, values in history.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=key)
    ax.set(yscale="log", xlabel="epoch", ylabel="loss", title=title)
    ax.legend()
    # Fixed margins: tight_layout measured every label and took half of a job's figure time.
    figure.subplots_adjust(left=0.13, right=0.97, bottom=0.15, top=0.88)
    return figure


def forecast_figure(
    truth: np.ndarray, forecasts: Mapping[str, np.ndarray], title: str, upto: int = 100
) -> Figure:
    """The first `upto` test targets (n,) and each mode's forecasts of them (n,)."""
    figure, ax = plt.subplots(figsize=(10, 3.5))
    ax.plot(truth[:upto], "k", linewidth=5, alpha=0.2, label="truth")
    for mode, values in forecasts.items():
        ax.plot(values[:upto], label=mode)
    ax.set(xlabel="test target", title=title)
    ax.legend(loc="upper right", fontsize="small", ncol=3)
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.88)
    return figure
