"""Train one architecture on one study's windows with each of its seeds, and evaluate
each trained model on the test part.

The seeds train one after another through one compiled graph (forecastlab.training.
SeedGroup). For each seed it writes the model, its weights and history, then scores it in
every evaluation mode that applies (see forecastlab.modes) and writes eval.json and
predictions.npz, each seed with its own MLflow run. One process does all, since
TensorFlow's start-up and the graph's compilation are most of a short job's wall.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np

from forecastlab.cli import add_seed_files, configure_logging, json_object, seed_files
from forecastlab.config import git_commit, params_hash
from forecastlab.io import atomic_path, read_npz, write_json, write_npz
from forecastlab.layout import WINDOW, run_name
from forecastlab.numerics import configure, fingerprint
from forecastlab.plots import forecast_figure, loss_figure
from forecastlab.tracking import (
    failing_run,
    log_figures,
    log_history,
    log_results,
    log_window_datasets,
    start_run,
    supersede_runs,
    tracking_uri,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--windows", required=True, help="windows .npz")
    parser.add_argument("--prepared", required=True, help="prepared .npz (stateful training)")
    parser.add_argument("--study", required=True)
    parser.add_argument("--length", type=int, required=True)
    parser.add_argument("--arch", required=True)
    parser.add_argument("--hyperparams", type=json_object, required=True)
    parser.add_argument("--data-params", type=json_object, required=True, help="logged only")
    outputs = {
        "model": ".keras file to write",
        "weights": ".npz of weights by layer/variable",
        "history": "history .json (with the MLflow run id)",
        "metrics": "eval .json to write",
        "predictions": "predictions .npz to write",
    }
    add_seed_files(parser, outputs)
    args = parser.parse_args(argv)
    files_by_seed = seed_files(parser, args, outputs)
    configure_logging()

    # TensorFlow is imported only now, after argument errors had their chance to stop us.
    from forecastlab.training import SeedGroup

    # Each seed's saved model is loaded afresh, so Keras traces a predict function per seed,
    # as intended here; TensorFlow's warning about repeated tracing would say otherwise.
    logging.getLogger("tensorflow").addFilter(
        lambda record: "triggered tf.function retracing" not in record.getMessage()
    )
    configure(args.seeds[0])
    windows = read_npz(args.windows)
    prepared = read_npz(args.prepared)
    group = SeedGroup(args.arch, args.hyperparams, args.length, windows, prepared["train"])
    for seed, files in zip(args.seeds, files_by_seed, strict=True):
        name = run_name(args.study, args.length, args.arch, seed)
        try:
            train_seed(args, group, seed, files, windows, prepared)
        except Exception as error:
            # The job fails as a whole (Snakemake removes every seed's files): say which.
            raise SeedFailed(f"{name} failed: {error}") from error


class SeedFailed(RuntimeError):
    """One seed of the model's group failed: its name, and why."""


def train_seed(args, group, seed: int, files: dict, windows: dict, prepared: dict) -> None:
    """Train, save, evaluate and log one seed of the group, with its own MLflow run."""
    from forecastlab.models import export_weights, load_model, parameter_count
    from forecastlab.modes import Case, evaluate, flat_metrics

    name = run_name(args.study, args.length, args.arch, seed)
    hp = args.hyperparams
    weights_count = parameter_count(group.model)
    run_params = {
        "study": args.study,
        "window": args.length,
        "architecture": args.arch,
        "seed": seed,
        "model": hp,
        "data": args.data_params,
        "parameter_count": weights_count,
    }
    uri = tracking_uri()
    commit = git_commit()
    tags = {"git_commit": commit, "params_hash": params_hash(run_params), "rule": "train"}
    # The model its seed replicates share: the summarize step nests them under one run.
    tags["model"] = run_name(args.study, args.length, args.arch)
    # The UI's Source column: the script and commit that trained the model.
    tags |= {
        "mlflow.source.type": "LOCAL",
        "mlflow.source.name": "workflow/scripts/train.py",
        "mlflow.source.git.commit": commit,
    }
    tags["checkout"] = str(Path.cwd())  # whose stale runs this rerun may supersede
    run_id = start_run(uri, args.study, name, run_params, tags)
    logging.info("%s: %d weights, MLflow run %s", name, weights_count, run_id)
    for stale in supersede_runs(uri, run_id):
        logging.info("%s: MLflow run %s of a killed attempt marked FAILED", name, stale)
    window = WINDOW.format(study=args.study, length=args.length)
    log_window_datasets(uri, run_id, windows, window, args.windows)
    # A failure from here on closes the run as FAILED.
    with failing_run(uri, run_id):
        started = time.perf_counter()
        history = group.train(seed, name)
        seconds = time.perf_counter() - started
        logging.info("%s: trained in %.1f s", name, seconds)

        with atomic_path(files["model"]) as tmp:
            group.model.save(tmp)
        write_npz(files["weights"], export_weights(group.model))
        final = {f"final_{key}": values[-1] for key, values in history.items()}
        environment = fingerprint()
        write_json(
            files["history"],
            {
                "run_id": run_id,
                "train_seconds": seconds,
                "history": history,
                **final,
                "parameter_count": weights_count,
                "environment": environment,
            },
        )
        log_history(uri, run_id, history)
        log_results(uri, run_id, {"train_seconds": seconds, **final}, artifacts=[files["weights"]])

        # The evaluation scores the saved file, as anyone loading model.keras gets it, from
        # freshly seeded generators: MC-dropout's draws then depend on the seed alone, not
        # on how far training advanced the dropout layers' seed generators.
        started = time.perf_counter()
        configure(seed)
        saved = load_model(files["model"])
        result = evaluate(Case(saved, args.arch, hp, args.length, windows, prepared, seed))
        result.metrics["environment"] = environment
        write_npz(files["predictions"], result.arrays)
        write_json(files["metrics"], result.metrics)
        log_results(uri, run_id, flat_metrics(result.metrics))
        log_figures(uri, run_id, figures(name, history, result))
        modes = result.metrics["modes"]
        shown = ", ".join(f"{mode} MSE {m['mse']:.3g}" for mode, m in modes.items())
        logging.info("%s: evaluated in %.1f s: %s", name, time.perf_counter() - started, shown)


def figures(name: str, history: dict, result) -> dict:
    """The run's figures: forecasts against targets (first step ahead) and the losses."""

    def first_step(values: np.ndarray) -> np.ndarray:
        return values if values.ndim == 1 else values[:, 0]

    shown = {mode: first_step(forecasts) for mode, forecasts in result.forecasts.items()}
    title = f"{name}: test targets and forecasts (first step ahead)"
    made = {"predictions.png": forecast_figure(first_step(result.targets), shown, title)}
    if history:
        made["loss.png"] = loss_figure(history, name)
    return made


if __name__ == "__main__":
    main()
