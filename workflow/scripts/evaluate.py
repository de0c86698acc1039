"""Evaluate a trained model on the test part: its window forecasts, and for recurrent
one-step models the stateful pass over the test series; MC-dropout models add intervals."""

from __future__ import annotations

import argparse
import logging

from forecastlab.architectures import has_stateful_modes, target_steps
from forecastlab.cli import configure_logging, json_object
from forecastlab.io import read_json, read_npz, write_json, write_npz
from forecastlab.tracking import ensure_run, log_results, tracking_uri
from forecastlab.windows import horizon_of, model_targets


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--name", required=True, help="study/wL/arch, the MLflow run name")
    parser.add_argument("--model", required=True, help=".keras file")
    parser.add_argument("--history", required=True, help="training history .json (run id)")
    parser.add_argument("--windows", required=True, help="windows .npz")
    parser.add_argument("--prepared", required=True, help="prepared .npz (the test series)")
    parser.add_argument("--arch", required=True)
    parser.add_argument("--hyperparams", type=json_object, required=True)
    parser.add_argument("--length", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0, help="seeds MC-dropout passes")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--metrics", required=True, help="eval .json to write")
    parser.add_argument("--predictions", required=True, help="predictions .npz to write")
    args = parser.parse_args(argv)
    configure_logging()

    import keras

    from forecastlab.evaluation import (
        compare_modes,
        interval_coverage,
        mc_dropout_predict,
        per_horizon_mse,
        point_metrics,
        stateful_predict,
        stateless_predict,
    )
    from forecastlab.training import configure_determinism

    configure_determinism(args.seed, args.threads)
    hp, target = args.hyperparams, args.hyperparams["target"]
    model = keras.models.load_model(args.model)
    test_series = read_npz(args.prepared)["test"]
    windows = read_npz(args.windows)
    test_inputs = windows["test_inputs"]
    targets = model_targets(windows, "test", target, target_steps(args.arch, hp))
    targets = targets[..., 0] if targets.shape[-1] == 1 else targets

    predictions, hidden = stateless_predict(model, test_inputs)
    arrays = {"test_series": test_series, "test_targets": targets, "stateless": predictions}
    if hidden is not None:
        arrays["stateless_hidden"] = hidden
    # The forecast made after reading a whole window: per-step models' last step (the
    # textbook's last-time-step metric), the others' whole output.
    final = predictions[:, -1] if target in ("shifted", "shifted_horizon") else predictions
    final_targets = targets[:, -1] if target in ("shifted", "shifted_horizon") else targets
    evaluation = {"window": args.length, "target": target, "horizon": horizon_of(windows)}
    if target in ("shifted", "shifted_horizon"):
        evaluation["all_steps"] = point_metrics(predictions.ravel(), targets.ravel())
    if target in ("horizon", "shifted_horizon"):
        evaluation["per_horizon_mse"] = per_horizon_mse(final, final_targets).tolist()

    if test_series.ndim == 1:  # one series: where each window's final forecast lands
        positions = windows["test_starts"] + args.length
        arrays["target_positions"] = positions
    if has_stateful_modes(args.arch, hp) and test_series.ndim == 1:
        stateful, stateful_hidden = stateful_predict(model, args.arch, hp, test_series)
        arrays |= {"stateful": stateful, "stateful_hidden": stateful_hidden}
        modes = compare_modes(test_series, positions, final, stateful)
        evaluation["stateful_to_stateless_mse"] = (
            modes["stateful"]["mse"] / modes["stateless"]["mse"]
        )
    else:
        modes = {"stateless": point_metrics(final.ravel(), final_targets.ravel())}
    evaluation["modes"] = modes

    if hp.get("dropout", 0.0) > 0:
        interval = mc_dropout_predict(model, test_inputs, hp["mc_samples"], args.seed)
        arrays |= {f"mc_{key}": values for key, values in interval.items()}
        evaluation["mc_dropout"] = {
            **point_metrics(interval["mean"].ravel(), targets.ravel()),
            "coverage_95": interval_coverage(interval["lower"], interval["upper"], targets),
            "samples": hp["mc_samples"],
        }

    write_npz(args.predictions, arrays)
    write_json(args.metrics, evaluation)
    flat = {
        f"{mode}_{k}": v for mode, metrics in modes.items() for k, v in metrics.items() if k != "n"
    }
    extra = {
        key: value
        for key, value in [
            ("stateful_to_stateless_mse", evaluation.get("stateful_to_stateless_mse")),
            ("mc_coverage_95", evaluation.get("mc_dropout", {}).get("coverage_95")),
        ]
        if value is not None
    }
    extra |= {f"mse_step_{k + 1}": v for k, v in enumerate(evaluation.get("per_horizon_mse", []))}
    uri = tracking_uri()
    log_results(
        uri, ensure_run(uri, args.name, read_json(args.history)["run_id"]), {**flat, **extra}
    )
    shown = ", ".join(f"{mode} MSE {metrics['mse']:.3g}" for mode, metrics in modes.items())
    logging.info("%s: %s", args.name, shown)


if __name__ == "__main__":
    main()
