"""Recompute a trained model's predictions by hand (numpy) and compare them with Keras's,
for each of its seeds: one job per model, as one train job trained them.

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

from forecastlab.cli import add_seed_files, configure_logging, json_object, seed_files
from forecastlab.handcheck import forward, verify_predictions
from forecastlab.io import (
    ModelFileError,
    check_model_weights,
    read_json,
    read_npz,
    write_json,
    write_npz,
)
from forecastlab.layout import run_name
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
    parser.add_argument("--study", required=True)
    parser.add_argument("--length", type=int, required=True)
    parser.add_argument("--arch", required=True)
    parser.add_argument("--hyperparams", type=json_object, required=True)
    parser.add_argument("--windows", required=True, help="windows .npz")
    per_seed = {
        "model": ".keras file (its weights checked)",
        "weights": "weights .npz",
        "predictions": "Keras's predictions .npz",
        "history": "training history .json (run id)",
        "output": "verify .json to write",
        "hidden": ".npz to write: the hand pass's carried hidden states, which the study "
        "report draws",
    }
    add_seed_files(parser, per_seed, optional=["hidden"])
    parser.add_argument("--atol", type=float, required=True)
    parser.add_argument("--stateful-atol", type=float, help="for the stateful pass (default atol)")
    parser.add_argument("--rtol", type=float, default=0.0, help="allowed share of |keras|")
    args = parser.parse_args(argv)
    files_by_seed = seed_files(parser, args, per_seed)
    configure_logging()

    # Every seed is checked, so that the log names each that fails; a damaged model file
    # ends the job at once (its seed's file removed, the model to be retrained).
    uri = tracking_uri()
    windows = read_npz(args.windows)
    failed = []
    for seed, files in zip(args.seeds, files_by_seed, strict=True):
        name = run_name(args.study, args.length, args.arch, seed)
        # The run first, so that a failure anywhere below closes it as FAILED.
        run_id = ensure_run(uri, name, read_json(files["history"])["run_id"])
        with failing_run(uri, run_id):
            if not verify(args, name, files, windows, uri, run_id):
                failed.append(name)
    if failed:
        count = f"{len(failed)} of {len(args.seeds)} seeds"
        print(f"verification failed for {count}: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def verify(
    args: argparse.Namespace,
    name: str,
    files: Mapping[str, str | None],
    windows: Mapping[str, np.ndarray],
    uri: str,
    run_id: str,
) -> bool:
    """Compare one seed's model (`files` by role, as main's --model, --weights, ...), log
    the comparison to its run and close it: FINISHED if every mode is within the
    tolerances (then write the report), else FAILED; return whether it passed."""
    weights = read_npz(files["weights"])
    try:
        check_model_weights(files["model"], weights)
    except ModelFileError as err:
        # The model file is a train job's output, not this job's: removing it is how the
        # next run learns to retrain the model (Snakemake reruns a job whose output is gone).
        Path(files["model"]).unlink(missing_ok=True)
        raise SystemExit(f"error: {err}; removed it, the next run retrains {name}") from None
    predictions = read_npz(files["predictions"])
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
            f"verification failed for {name}: {mode} mode, max |hand - keras| = "
            f"{result['worst_error']:.3g} > atol {result['atol']:g} + rtol {args.rtol:g} x "
            f"|keras| at index {result['worst_index']} of {result['quantity']}"
        )
        print(message, file=sys.stderr)
        fail_run(uri, run_id, message)
        return False
    write_json(files["output"], report)
    if files["hidden"]:
        write_npz(files["hidden"], carried_states(args, weights, predictions, horizon_of(windows)))
    finish_run(uri, run_id)
    logging.info(
        "%s: hand forward equals Keras in every mode (%s)",
        name,
        ", ".join(f"{mode} {r['max_abs_error']:.2g}" for mode, r in report["modes"].items()),
    )
    return True


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
