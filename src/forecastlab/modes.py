"""The evaluation modes: which apply to a model, what each predicts and against what.

A trained model is scored in every mode of `MODES` whose `applies` holds, decided from
its architecture plan and the shape of its data, never from its name:

- `window` (every model): its forecast after each test window, named by target
  (`stateless`; `direct` for seq-to-vector models; `seq2seq`, at the last step, for
  seq-to-seq ones), and `all_steps` (every step's forecast) for per-step models.
- `stateful` (recurrent models whose every step forecasts the next value, on one
  series): `stateful` (one state from zero through the test part), `stateful_warm` (the
  state carried in from the start of the series), `stateful_reset_L` (reset every L
  steps), scored on the window targets, and `stateful_all` from the first test step.
- `iterative` (one-step models of a study with horizon targets): fed their own forecasts.
- `mc_dropout` (models with a dropout layer): the mean of sampled passes, its interval.

`evaluate` runs them and returns the two files a model's evaluation writes: the arrays
of `predictions.npz` and the metrics of `eval.json`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from forecastlab.architectures import WINDOW_MODE, has_stateful_modes, plan, target_steps
from forecastlab.evaluation import (
    interval_coverage,
    iterative_forecast,
    mc_dropout_predict,
    per_horizon_mse,
    scored,
    stateful_predict,
    stateful_reset_predict,
    stateful_warm_predict,
    stateless_predict,
)
from forecastlab.windows import horizon_of, model_targets


@dataclass
class Case:
    """One trained model and its test data, with what the window mode computed for the
    other modes: predictions (n, ...) of the test windows, and the forecasts (n,) or
    (n, H) after each whole window with their targets."""

    model: keras.Model
    arch: str
    hp: Mapping[str, Any]
    length: int
    windows: Mapping[str, np.ndarray]
    prepared: Mapping[str, np.ndarray]
    seed: int
    final_targets: np.ndarray | None = None

    @property
    def test_series(self) -> np.ndarray:
        return self.prepared["test"]

    def score(self, forecasts: np.ndarray, truth: np.ndarray, per_horizon: bool = False) -> dict:
        """Every metric of forecasts against truth; with per_horizon, forecasts (n, H)
        also give the MSE at each step ahead."""
        scaler = (float(self.prepared["scaler_offset"]), float(self.prepared["scaler_scale"]))
        metrics = scored(forecasts, truth, *scaler, self.prepared["train"])
        if per_horizon:
            metrics["per_horizon_mse"] = per_horizon_mse(forecasts, truth).tolist()
        return metrics


@dataclass
class Outcome:
    """What one mode adds: arrays for predictions.npz, forecasts (after each window,
    scored against the window targets) and modes scored on targets of their own."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    forecasts: dict[str, np.ndarray] = field(default_factory=dict)
    modes: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class Mode:
    name: str
    applies: Callable[[Case], bool]
    run: Callable[[Case], Outcome]


def _window(case: Case) -> Outcome:
    target, targets = case.hp["target"], model_targets_of(case)
    predictions, hidden = stateless_predict(case.model, case.windows["test_inputs"])
    outcome = Outcome(arrays={"test_series": case.test_series, "test_targets": targets})
    outcome.arrays["stateless"] = predictions
    if hidden is not None:
        outcome.arrays["stateless_hidden"] = hidden
    if case.test_series.ndim == 1:  # one series: where each window's final forecast lands
        outcome.arrays["target_positions"] = case.windows["test_starts"] + case.length
    # The forecast made after reading a whole window: for per-step models, the last
    # step's (the textbook's last-time-step metric).
    per_step = target in ("shifted", "shifted_horizon")
    case.final_targets = targets[:, -1] if per_step else targets
    outcome.forecasts[WINDOW_MODE[target]] = predictions[:, -1] if per_step else predictions
    if per_step:  # every step's forecast of every window
        outcome.modes["all_steps"] = case.score(predictions, targets)
    return outcome


def _stateful(case: Case) -> Outcome:
    model, arch, hp, series = case.model, case.arch, case.hp, case.test_series
    stateful, stateful_hidden = stateful_predict(model, arch, hp, series)
    history = np.concatenate([case.prepared["train"], case.prepared["validation"]])
    warm, _ = stateful_warm_predict(model, arch, hp, history, series)
    reset, _ = stateful_reset_predict(model, arch, hp, series, case.length)
    ends = case.windows["test_starts"] + case.length - 1  # the last step of each window
    return Outcome(
        arrays={
            "stateful": stateful,
            "stateful_hidden": stateful_hidden,
            "stateful_warm": warm,
            "stateful_reset_L": reset,
        },
        forecasts={
            "stateful": stateful[ends],
            "stateful_warm": warm[ends],
            "stateful_reset_L": reset[ends],
        },
        # From the very first step, where the carried state is still warming up.
        modes={"stateful_all": case.score(stateful[:-1], series[1:])},
    )


def _iterative(case: Case) -> Outcome:
    iterated = iterative_forecast(case.model, case.windows["test_inputs"], horizon_of(case.windows))
    truth = case.windows["test_targets_horizon"]
    return Outcome(
        arrays={"iterative": iterated},
        modes={"iterative": case.score(iterated, truth, per_horizon=True)},
    )


def _mc_dropout(case: Case) -> Outcome:
    samples, targets = case.hp["mc_samples"], model_targets_of(case)
    interval = mc_dropout_predict(case.model, case.windows["test_inputs"], samples, case.seed)
    coverage = interval_coverage(interval["lower"], interval["upper"], targets)
    return Outcome(
        arrays={f"mc_{key}": values for key, values in interval.items()},
        modes={
            "mc_dropout": {
                **case.score(interval["mean"], targets),
                "coverage_95": coverage,
                "samples": samples,
            }
        },
    )


def model_targets_of(case: Case) -> np.ndarray:
    """The test targets shaped as the model's predictions (a trailing axis of one dropped)."""
    targets = model_targets(
        case.windows, "test", case.hp["target"], target_steps(case.arch, case.hp)
    )
    return targets[..., 0] if targets.shape[-1] == 1 else targets


def _has_dropout(case: Case) -> bool:
    layers = plan(case.arch, case.hp, case.length, horizon_of(case.windows))
    return any(layer.kind == "dropout" for layer in layers)


MODES: tuple[Mode, ...] = (
    Mode("window", lambda case: True, _window),
    Mode(
        "stateful",
        lambda case: case.test_series.ndim == 1 and has_stateful_modes(case.arch, case.hp),
        _stateful,
    ),
    Mode(
        "iterative",
        lambda case: case.hp["target"] == "next" and "test_targets_horizon" in case.windows,
        _iterative,
    ),
    Mode("mc_dropout", _has_dropout, _mc_dropout),
)


@dataclass
class Evaluation:
    """A model's evaluation: eval.json's content ({"window", "target", "horizon",
    "modes": {mode: metrics}, and "stateful_to_stateless_mse" where both apply}, the modes
    of forecasts after each window first), predictions.npz's arrays, and those forecasts
    {mode: (n,) or (n, H)} with their targets, for the forecast figure."""

    metrics: dict[str, Any]
    arrays: dict[str, np.ndarray]
    forecasts: dict[str, np.ndarray]
    targets: np.ndarray


def evaluate(case: Case) -> Evaluation:
    """Run every mode that applies to `case`, in the order of MODES."""
    outcomes = [mode.run(case) for mode in MODES if mode.applies(case)]
    multi_step = case.hp["target"] in ("horizon", "shifted_horizon")
    forecasts = {name: f for outcome in outcomes for name, f in outcome.forecasts.items()}
    modes = {name: case.score(f, case.final_targets, multi_step) for name, f in forecasts.items()}
    for outcome in outcomes:
        modes |= outcome.modes
    evaluation = {
        "window": case.length,
        "target": case.hp["target"],
        "horizon": horizon_of(case.windows),
        "modes": modes,
    }
    if "stateful" in modes:
        evaluation["stateful_to_stateless_mse"] = (
            modes["stateful"]["mse"] / modes["stateless"]["mse"]
        )
    arrays = {key: value for outcome in outcomes for key, value in outcome.arrays.items()}
    return Evaluation(evaluation, arrays, forecasts, case.final_targets)


def flat_metrics(evaluation: Mapping[str, Any]) -> dict[str, float]:
    """eval.json's metrics as MLflow's flat names: `{mode}_{metric}`, the per-horizon MSE
    as `{mode}_mse_step_{k}`, and the stateful-to-stateless ratio."""
    flat = {
        f"{mode}_{key}": value
        for mode, metrics in evaluation["modes"].items()
        for key, value in metrics.items()
        if key not in ("n", "samples", "per_horizon_mse")
    }
    flat |= {
        f"{mode}_mse_step_{k + 1}": value
        for mode, metrics in evaluation["modes"].items()
        for k, value in enumerate(metrics.get("per_horizon_mse", []))
    }
    if "stateful_to_stateless_mse" in evaluation:
        flat["stateful_to_stateless_mse"] = evaluation["stateful_to_stateless_mse"]
    return flat
