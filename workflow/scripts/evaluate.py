"""Evaluate a trained model on the test part, in every mode that applies to it.

Every model: its window forecasts (`stateless`; `direct` for seq-to-vector models,
`seq2seq` at the last time step for seq-to-seq ones). Recurrent one-step models on one
series: also `stateful` (one state from zero through the test part), `stateful_warm`
(carried in from the start of the series) and `stateful_reset_L` (reset every L steps),
all scored on the same targets. One-step models of a study with horizon targets:
`iterative` (fed their own forecasts). Dropout models: `mc_dropout` with its interval.
"""

from __future__ import annotations

import argparse
import logging

import numpy as np

from forecastlab.architectures import has_stateful_modes, target_steps
from forecastlab.cli import configure_logging, json_object
from forecastlab.io import read_json, read_npz, write_json, write_npz
from forecastlab.numerics import configure, fingerprint
from forecastlab.plots import forecast_figure, loss_figure
from forecastlab.tracking import ensure_run, failing_run, log_figures, log_results, tracking_uri
from forecastlab.windows import horizon_of, model_targets

# The name of the window forecasts' mode, by target.
WINDOW_MODE = {
    "next": "stateless",
    "shifted": "stateless",
    "horizon": "direct",
    "shifted_horizon": "seq2seq",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True, help="study/wL/arch, the MLflow run name")
    parser.add_argument("--model", required=True, help=".keras file")
    parser.add_argument("--history", required=True, help="training history .json (run id)")
    parser.add_argument("--windows", required=True, help="windows .npz")
    parser.add_argument("--prepared", required=True, help="prepared .npz (series and scaler)")
    parser.add_argument("--arch", required=True)
    parser.add_argument("--hyperparams", type=json_object, required=True)
    parser.add_argument("--length", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0, help="seeds MC-dropout passes")
    parser.add_argument("--metrics", required=True, help="eval .json to write")
    parser.add_argument("--predictions", required=True, help="predictions .npz to write")
    args = parser.parse_args(argv)
    configure_logging()

    # The run first, so that a failure anywhere below closes it as FAILED.
    uri = tracking_uri()
    run_id = ensure_run(uri, args.name, read_json(args.history)["run_id"])
    with failing_run(uri, run_id):
        evaluate(args, uri, run_id)


def evaluate(args: argparse.Namespace, uri: str, run_id: str) -> None:
    """Score the model in every mode that applies, write its files, log them to the run."""
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

    configure(args.seed)
    hp, target, length = args.hyperparams, args.hyperparams["target"], args.length
    from forecastlab.models import ModelFileError, load_model

    try:
        model = load_model(args.model)
    except ModelFileError as err:
        raise SystemExit(f"error: {err}") from None
    prepared, windows = read_npz(args.prepared), read_npz(args.windows)
    test_series, test_inputs = prepared["test"], windows["test_inputs"]
    scaler = (float(prepared["scaler_offset"]), float(prepared["scaler_scale"]))

    def score(forecasts: np.ndarray, truth: np.ndarray, per_horizon: bool = False) -> dict:
        metrics = scored(forecasts, truth, *scaler, prepared["train"])
        if per_horizon:  # forecasts (n, H): the MSE at each step ahead too
            metrics["per_horizon_mse"] = per_horizon_mse(forecasts, truth).tolist()
        return metrics

    targets = model_targets(windows, "test", target, target_steps(args.arch, hp))
    targets = targets[..., 0] if targets.shape[-1] == 1 else targets
    predictions, hidden = stateless_predict(model, test_inputs)
    arrays = {"test_series": test_series, "test_targets": targets, "stateless": predictions}
    if hidden is not None:
        arrays["stateless_hidden"] = hidden
    # The forecast made after reading a whole window: for per-step models, the last
    # step's (the textbook's last-time-step metric).
    per_step = target in ("shifted", "shifted_horizon")
    final = predictions[:, -1] if per_step else predictions
    final_targets = targets[:, -1] if per_step else targets
    forecasts = {WINDOW_MODE[target]: final}
    evaluation = {"window": length, "target": target, "horizon": horizon_of(windows)}
    modes = {}
    if per_step:  # every step's forecast of every window
        modes["all_steps"] = score(predictions, targets)

    if test_series.ndim == 1:  # one series: where each window's final forecast lands
        positions = windows["test_starts"] + length
        arrays["target_positions"] = positions
        if has_stateful_modes(args.arch, hp):
            stateful, stateful_hidden = stateful_predict(model, args.arch, hp, test_series)
            history = np.concatenate([prepared["train"], prepared["validation"]])
            warm, _ = stateful_warm_predict(model, args.arch, hp, history, test_series)
            reset, _ = stateful_reset_predict(model, args.arch, hp, test_series, length)
            arrays |= {
                "stateful": stateful,
                "stateful_hidden": stateful_hidden,
                "stateful_warm": warm,
                "stateful_reset_L": reset,
            }
            forecasts |= {
                "stateful": stateful[positions - 1],
                "stateful_warm": warm[positions - 1],
                "stateful_reset_L": reset[positions - 1],
            }
            # From the very first step, where the carried state is still warming up.
            modes["stateful_all"] = score(stateful[:-1], test_series[1:])
    if target == "next" and "test_targets_horizon" in windows:
        iterated = iterative_forecast(model, test_inputs, evaluation["horizon"])
        arrays["iterative"] = iterated
        modes["iterative"] = score(iterated, windows["test_targets_horizon"], per_horizon=True)
    if hp.get("dropout", 0.0) > 0:
        interval = mc_dropout_predict(model, test_inputs, hp["mc_samples"], args.seed)
        arrays |= {f"mc_{key}": values for key, values in interval.items()}
        modes["mc_dropout"] = {
            **score(interval["mean"], targets),
            "coverage_95": interval_coverage(interval["lower"], interval["upper"], targets),
            "samples": hp["mc_samples"],
        }
    multi_step = target in ("horizon", "shifted_horizon")
    window_modes = {mode: score(f, final_targets, multi_step) for mode, f in forecasts.items()}
    evaluation["modes"] = window_modes | modes
    evaluation["environment"] = fingerprint()
    if "stateful" in forecasts:
        evaluation["stateful_to_stateless_mse"] = (
            evaluation["modes"]["stateful"]["mse"] / evaluation["modes"]["stateless"]["mse"]
        )

    write_npz(args.predictions, arrays)
    write_json(args.metrics, evaluation)
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
    training = read_json(args.history)
    log_results(uri, run_id, flat)
    figures = {
        "predictions.png": forecast_figure(
            np.ravel(final_targets) if final_targets.ndim == 1 else final_targets[:, 0],
            {m: (f if f.ndim == 1 else f[:, 0]) for m, f in forecasts.items()},
            f"{args.name}: test targets and forecasts (first step ahead)",
        )
    }
    if training["history"]:
        figures["loss.png"] = loss_figure(training["history"], args.name)
    log_figures(uri, run_id, figures)
    shown = ", ".join(f"{mode} MSE {m['mse']:.3g}" for mode, m in evaluation["modes"].items())
    logging.info("%s: %s", args.name, shown)


if __name__ == "__main__":
    main()
