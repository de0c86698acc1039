"""Evaluate a trained model on the test part: stateless windows and one stateful pass."""

from __future__ import annotations

import argparse
import logging

from forecastlab.cli import configure_logging, json_object
from forecastlab.io import read_json, read_npz, write_json, write_npz
from forecastlab.tracking import ensure_run, log_results, tracking_uri


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
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--metrics", required=True, help="eval .json to write")
    parser.add_argument("--predictions", required=True, help="predictions .npz to write")
    args = parser.parse_args(argv)
    configure_logging()

    import keras

    from forecastlab.evaluation import compare_modes, stateful_predict, stateless_predict
    from forecastlab.training import configure_determinism

    configure_determinism(0, args.threads)
    model = keras.models.load_model(args.model)
    test_series = read_npz(args.prepared)["test"]
    windows = read_npz(args.windows)
    test_inputs, positions = windows["test_inputs"], windows["test_starts"] + args.length

    stateless, stateless_hidden = stateless_predict(model, args.arch, test_inputs)
    stateful, stateful_hidden = stateful_predict(model, args.arch, args.hyperparams, test_series)
    modes = compare_modes(test_series, positions, stateless, stateful)
    ratio = modes["stateful"]["mse"] / modes["stateless"]["mse"]

    write_npz(
        args.predictions,
        {
            "test_series": test_series,
            "target_positions": positions,
            "stateless": stateless,
            "stateless_hidden": stateless_hidden,
            "stateful": stateful,
            "stateful_hidden": stateful_hidden,
        },
    )
    write_json(
        args.metrics, {"window": args.length, "modes": modes, "stateful_to_stateless_mse": ratio}
    )
    flat = {
        f"{mode}_{k}": v for mode, metrics in modes.items() for k, v in metrics.items() if k != "n"
    }
    uri = tracking_uri()
    log_results(
        uri,
        ensure_run(uri, args.name, read_json(args.history)["run_id"]),
        {**flat, "stateful_to_stateless_mse": ratio},
    )
    logging.info(
        "window %d: stateless MSE %.3g, stateful MSE %.3g (ratio %.3g)",
        args.length,
        modes["stateless"]["mse"],
        modes["stateful"]["mse"],
        ratio,
    )


if __name__ == "__main__":
    main()
