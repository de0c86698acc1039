"""Recompute a trained model's predictions by hand (numpy) and compare them with Keras's.

Reads the exported weights and Keras's predictions, not the model: no TensorFlow. The
saved model file must hold bitwise the weights checked by hand (read with h5py): a damaged
or altered one stops here, named, and is removed so that the next run retrains it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from forecastlab.cli import configure_logging, json_object
from forecastlab.handcheck import forward, verify_predictions
from forecastlab.io import (
    ModelFileError,
    check_model_weights,
    read_json,
    read_npz,
    write_json,
    write_npz,
)
from forecastlab.tracking import (
    ensure_run,
    fail_run,
    failing_run,
    finish_run,
    log_results,
    tracking_uri,
)
from forecastlab.windows import horizon_of


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--name", required=True, help="study/wL/arch/seedN: the MLflow run name, in messages"
    )
    parser.add_argument("--arch", required=True)
    parser.add_argument("--hyperparams", type=json_object, required=True)
    parser.add_argument("--model", required=True, help=".keras file (its weights checked)")
    parser.add_argument("--weights", required=True, help="weights .npz")
    parser.add_argument("--windows", required=True, help="windows .npz")
    parser.add_argument("--predictions", required=True, help="Keras's predictions .npz")
    parser.add_argument("--history", required=True, help="training history .json (run id)")
    parser.add_argument("--atol", type=float, required=True)
    parser.add_argument("--stateful-atol", type=float, help="for the stateful pass (default atol)")
    parser.add_argument("--rtol", type=float, default=0.0, help="allowed share of |keras|")
    parser.add_argument("--output", required=True, help="verify .json to write")
    parser.add_argument(
        "--hidden",
        help=".npz to write: the hand pass's carried hidden states, which the study report draws",
    )
    args = parser.parse_args(argv)
    configure_logging()

    # The run first, so that a failure anywhere below closes it as FAILED.
    uri = tracking_uri()
    run_id = ensure_run(uri, args.name, read_json(args.history)["run_id"])
    with failing_run(uri, run_id):
        return verify(args, uri, run_id)


def verify(args: argparse.Namespace, uri: str, run_id: str) -> int:
    """Compare, log the comparison to the run and close it: FINISHED if every mode is
    within the tolerances (then write the report), else FAILED; return the exit code."""
    weights = read_npz(args.weights)
    try:
        check_model_weights(args.model, weights)
    except ModelFileError as err:
        # The model file is a train job's output, not this job's: removing it is how the
        # next run learns to retrain the model (Snakemake reruns a job whose output is gone).
        Path(args.model).unlink(missing_ok=True)
        raise SystemExit(f"error: {err}; removed it, the next run retrains {args.name}") from None
    windows = read_npz(args.windows)
    predictions = read_npz(args.predictions)
    report = verify_predictions(
        args.arch,
        args.hyperparams,
        weights,
        windows["test_inputs"],
        predictions,
        args.atol,
        args.stateful_atol,
        horizon_of(windows),
        args.rtol,
    )
    metrics = {
        f"verify_{mode}_{key}": value
        for mode, result in report["modes"].items()
        for key, value in result.items()
        if key in ("max_abs_error", "max_rel_error", "n_compared")
    }
    log_results(uri, run_id, metrics, tags={"verified": str(report["passed"]).lower()})
    if not report["passed"]:
        mode, result = next((m, r) for m, r in report["modes"].items() if not r["passed"])
        message = (
            f"verification failed for {args.name}: {mode} mode, max |hand - keras| = "
            f"{result['worst_error']:.3g} > atol {result['atol']:g} + rtol {args.rtol:g} x "
            f"|keras| at index {result['worst_index']} of {result['quantity']}"
        )
        print(message, file=sys.stderr)
        fail_run(uri, run_id, message)
        return 1
    write_json(args.output, report)
    if args.hidden:
        write_npz(args.hidden, carried_states(args, weights, predictions, horizon_of(windows)))
    finish_run(uri, run_id)
    logging.info(
        "%s: hand forward equals Keras in every mode (%s)",
        args.name,
        ", ".join(f"{mode} {r['max_abs_error']:.2g}" for mode, r in report["modes"].items()),
    )
    return 0


def carried_states(
    args: argparse.Namespace,
    weights: Mapping[str, np.ndarray],
    predictions: Mapping[str, np.ndarray],
    horizon: int,
) -> dict[str, np.ndarray]:
    """{"stateful_hidden": (T, units)}: the float64 hand pass over the test series that
    verify_predictions checked against Keras's carried states, for the study report
    (forecastlab.views.hidden_state_figure); {} for a model without a stateful mode. The
    same call as verify_predictions', so the same numbers: it returns only its verdict."""
    if "stateful" not in predictions:
        return {}
    series = predictions["test_series"].reshape(1, -1, 1)
    _, hidden = forward(args.arch, args.hyperparams, weights, series, horizon, sequences=True)
    return {"stateful_hidden": hidden[0]}


if __name__ == "__main__":
    sys.exit(main())
