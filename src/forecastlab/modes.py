"""The evaluation modes: which apply to a model, what each predicts and against what, and
what the later phases do with its forecasts.

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

Each entry also says, from the arrays it saves in predictions.npz, what the later phases
do with them: which the hand forward pass verifies (`verified`, forecastlab.handcheck),
which compete with other models' forecasts (`compared`, forecastlab.comparison), which
are tested against the stateless forecasts (`versus_stateless`, the summarize job's
verdicts), and which one-step forecasts the reports and DVC plots draw (`drawn`). The
modes are independent: each reads only the model and its data, so their order in
`MODES` is only the order of eval.json's entries.

`evaluate` runs them and returns the two files a model's evaluation writes: the arrays
of `predictions.npz` and the metrics of `eval.json`. The runners import TensorFlow's side
(forecastlab.evaluation) when they run: the summarize job and the reports read this
registry without TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from forecastlab.architectures import WINDOW_MODE, has_stateful_modes, plan, target_steps
from forecastlab.layers import LAYER_KINDS
from forecastlab.windows import horizon_of, model_targets

if TYPE_CHECKING:
    import keras

Arrays = Mapping[str, np.ndarray]
# Targets whose every window step forecasts: the window's forecast is its last step's.
PER_STEP_TARGETS = ("shifted", "shifted_horizon")
MULTI_STEP_TARGETS = ("horizon", "shifted_horizon")


@dataclass
class Case:
    """One trained model and its test data."""

    model: keras.Model
    arch: str
    hp: Mapping[str, Any]
    length: int
    windows: Mapping[str, np.ndarray]
    prepared: Mapping[str, np.ndarray]
    seed: int

    @property
    def test_series(self) -> np.ndarray:
        return self.prepared["test"]

    def score(self, forecasts: np.ndarray, truth: np.ndarray, per_horizon: bool = False) -> dict:
        """Every metric of forecasts against truth; with per_horizon, forecasts (n, H)
        also give the MSE at each step ahead."""
        from forecastlab.evaluation import per_horizon_mse, scored

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
class Verified:
    """A hand forward pass that forecastlab.handcheck checks against a mode's arrays:
    verify.json's name of it and the predictions.npz arrays it compares."""

    name: str
    arrays: tuple[str, ...]


@dataclass(frozen=True)
class Compared:
    """Forecasts of a mode that compete with other models' of the same targets: eval.json's
    name of them, whether they forecast the next H values, the predictions.npz array that
    holds them (a model without it has none), and how to read from one seed's arrays the
    forecasts (n,) or (n, H) and, given the window and horizon, the targets they forecast,
    in time order."""

    name: str
    multi_step: bool
    array: str
    forecasts: Callable[[Arrays], np.ndarray]
    targets: Callable[[Arrays, int, int], np.ndarray]


def _nothing_compared(target: str) -> tuple[Compared, ...]:
    return ()


def _nothing_after_windows(arrays: Arrays) -> dict[str, np.ndarray]:
    return {}


@dataclass(frozen=True)
class Mode:
    """One evaluation mode: when it applies and how it runs (evaluation), then what is
    done with the arrays it saves.

    verified: the hand forward passes that check its arrays (forecastlab.handcheck).
    compared: by the model's target, the forecasts that compete with other models' of the
    same targets (forecastlab.comparison, the reports' MSE figure and horizon plots).
    after_windows: from one seed's arrays of a one-series model (with
    "target_positions"), its one-step forecasts (m,) made after each test window, by
    array name, in the order of the windows; none when the arrays lack them.
    versus_stateless: of those, the ones tested against the stateless forecasts on the
    same targets, by their name in the verdict table (results/stateful_vs_stateless.csv).
    drawn: of those, the ones drawn against the truth in the reports' and DVC's
    one-step forecast plots, by matplotlib line style.
    """

    name: str
    applies: Callable[[Case], bool]
    run: Callable[[Case], Outcome]
    verified: tuple[Verified, ...] = ()
    compared: Callable[[str], tuple[Compared, ...]] = _nothing_compared
    after_windows: Callable[[Arrays], dict[str, np.ndarray]] = _nothing_after_windows
    versus_stateless: Mapping[str, str] = field(default_factory=dict)
    drawn: Mapping[str, str] = field(default_factory=dict)


def last_step(values: np.ndarray, target: str) -> np.ndarray:
    """Per-step forecasts or targets (n, L) or (n, L, H) -> those of the window's last
    step, the forecast made after reading the whole window; others as they are."""
    return values[:, -1] if target in PER_STEP_TARGETS else values


def model_targets_of(case: Case) -> np.ndarray:
    """The test targets shaped as the model's predictions (a trailing axis of one dropped)."""
    targets = model_targets(
        case.windows, "test", case.hp["target"], target_steps(case.arch, case.hp)
    )
    return targets[..., 0] if targets.shape[-1] == 1 else targets


def window_targets(case: Case) -> np.ndarray:
    """The targets (n,) or (n, H) of the forecasts made after each whole test window,
    which every mode's `forecasts` are scored against."""
    return last_step(model_targets_of(case), case.hp["target"])


def _window(case: Case) -> Outcome:
    from forecastlab.evaluation import stateless_predict

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
    outcome.forecasts[WINDOW_MODE[target]] = last_step(predictions, target)
    if target in PER_STEP_TARGETS:  # every step's forecast of every window
        outcome.modes["all_steps"] = case.score(predictions, targets)
    return outcome


def _window_compared(target: str) -> tuple[Compared, ...]:
    def forecasts(arrays: Arrays) -> np.ndarray:
        return last_step(arrays["stateless"], target)

    def targets(arrays: Arrays, window: int, horizon: int) -> np.ndarray:
        return last_step(arrays["test_targets"], target)

    multi_step = target in MULTI_STEP_TARGETS
    return (Compared(WINDOW_MODE[target], multi_step, "stateless", forecasts, targets),)


def _window_after_windows(arrays: Arrays) -> dict[str, np.ndarray]:
    # A per-step model's (m, L) forecasts: its last step's.
    stateless = arrays["stateless"]
    return {"stateless": stateless[:, -1] if stateless.ndim == 2 else stateless}


# The per-step (T,) forecasts of the stateful mode, where forecasts[t] forecasts step t + 1.
STATEFUL_ARRAYS = ("stateful", "stateful_warm", "stateful_reset_L")


def _stateful(case: Case) -> Outcome:
    from forecastlab.evaluation import (
        stateful_predict,
        stateful_reset_predict,
        stateful_warm_predict,
    )

    model, arch, hp, series = case.model, case.arch, case.hp, case.test_series
    stateful, stateful_hidden = stateful_predict(model, arch, hp, series)
    history = np.concatenate([case.prepared["train"], case.prepared["validation"]])
    warm, _ = stateful_warm_predict(model, arch, hp, history, series)
    reset, _ = stateful_reset_predict(model, arch, hp, series, case.length)
    ends = case.windows["test_starts"] + case.length - 1  # the last step of each window
    carried = dict(zip(STATEFUL_ARRAYS, (stateful, warm, reset), strict=True))
    return Outcome(
        # predictions.npz keeps the order its arrays always had.
        arrays={"stateful": stateful, "stateful_hidden": stateful_hidden}
        | {"stateful_warm": warm, "stateful_reset_L": reset},
        forecasts={name: values[ends] for name, values in carried.items()},
        # From the very first step, where the carried state is still warming up.
        modes={"stateful_all": case.score(stateful[:-1], series[1:])},
    )


def _stateful_after_windows(arrays: Arrays) -> dict[str, np.ndarray]:
    ends = arrays["target_positions"] - 1  # the last step of each window
    return {name: arrays[name][ends] for name in STATEFUL_ARRAYS if name in arrays}


def _iterative(case: Case) -> Outcome:
    from forecastlab.evaluation import iterative_forecast

    iterated = iterative_forecast(case.model, case.windows["test_inputs"], horizon_of(case.windows))
    truth = case.windows["test_targets_horizon"]
    return Outcome(
        arrays={"iterative": iterated},
        modes={"iterative": case.score(iterated, truth, per_horizon=True)},
    )


def iterated_targets(arrays: Arrays, window: int, horizon: int) -> np.ndarray:
    """The next `horizon` values after each test window (n, H), which an iterated
    forecast is scored on, from predictions.npz's arrays: after the window in each
    series of a panel (test_series (n, T)), or at each target position of one series."""
    series = np.asarray(arrays["test_series"])
    if series.ndim == 2:
        return series[:, window : window + horizon]
    return series[np.asarray(arrays["target_positions"])[:, None] + np.arange(horizon)]


def _iterative_compared(target: str) -> tuple[Compared, ...]:
    iterated = Compared(
        "iterative", True, "iterative", lambda arrays: arrays["iterative"], iterated_targets
    )
    return (iterated,)


def _mc_dropout(case: Case) -> Outcome:
    from forecastlab.evaluation import interval_coverage, mc_dropout_predict

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


def _has_dropout(case: Case) -> bool:
    """Whether a layer acts in training only (dropout), which MC dropout keeps on."""
    layers = plan(case.arch, case.hp, case.length, horizon_of(case.windows))
    return any(LAYER_KINDS[layer.kind].training_only for layer in layers)


MODES: tuple[Mode, ...] = (
    Mode(
        "window",
        lambda case: True,
        _window,
        verified=(Verified("stateless", ("stateless", "stateless_hidden")),),
        compared=_window_compared,
        after_windows=_window_after_windows,
        drawn={"stateless": "-"},
    ),
    Mode(
        "stateful",
        lambda case: case.test_series.ndim == 1 and has_stateful_modes(case.arch, case.hp),
        _stateful,
        verified=(Verified("stateful", ("stateful", "stateful_hidden")),),
        after_windows=_stateful_after_windows,
        versus_stateless={
            "stateful": "stateful",
            "stateful_warm": "warm",
            "stateful_reset_L": "reset every L",
        },
        drawn={"stateful": ":"},
    ),
    Mode(
        "iterative",
        lambda case: case.hp["target"] == "next" and "test_targets_horizon" in case.windows,
        _iterative,
        compared=_iterative_compared,
    ),
    Mode("mc_dropout", _has_dropout, _mc_dropout),
)


def compared_of(target: str) -> list[Compared]:
    """Every mode's forecasts that compete with other models' (Mode.compared) for a model
    that learnt `target`, in the order of MODES."""
    return [found for mode in MODES for found in mode.compared(target)]


def forecasts_after_windows(arrays: Arrays) -> dict[str, np.ndarray]:
    """Every mode's one-step forecasts (m,) after each test window of a one-series model
    (Mode.after_windows), by array name."""
    return {name: f for mode in MODES for name, f in mode.after_windows(arrays).items()}


# Every forecast tested against the stateless ones, by its name in the verdict table.
VERSUS_STATELESS: dict[str, str] = {
    name: shown for mode in MODES for name, shown in mode.versus_stateless.items()
}
# Every one-step forecast drawn against the truth, by its line style.
DRAWN: dict[str, str] = {name: style for mode in MODES for name, style in mode.drawn.items()}
# Every hand forward pass, by verify.json's name of it: the arrays it compares.
VERIFIED: dict[str, tuple[str, ...]] = {
    check.name: check.arrays for mode in MODES for check in mode.verified
}


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
    """Run every mode that applies to `case`; eval.json lists their modes in the order of
    MODES, the forecasts after each window first."""
    outcomes = [mode.run(case) for mode in MODES if mode.applies(case)]
    multi_step = case.hp["target"] in MULTI_STEP_TARGETS
    targets = window_targets(case)
    forecasts = {name: f for outcome in outcomes for name, f in outcome.forecasts.items()}
    modes = {name: case.score(f, targets, multi_step) for name, f in forecasts.items()}
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
    return Evaluation(evaluation, arrays, forecasts, targets)


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
