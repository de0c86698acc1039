"""Collect every trained model's results into DVC metrics and plot files."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from forecastlab.cli import configure_logging
from forecastlab.io import read_json, read_npz, write_json
from forecastlab.summary import loss_rows, metrics_entry, prediction_rows, write_csv


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=json.loads, required=True, help="JSON list of runs")
    parser.add_argument("--metrics", required=True, help="metrics .json to write")
    parser.add_argument("--plots", required=True, help="folder for loss and prediction CSVs")
    args = parser.parse_args(argv)
    configure_logging()

    metrics: dict = {}
    for run in args.runs:
        training, evaluation = read_json(run["history"]), read_json(run["eval"])
        entry = metrics_entry(evaluation, training, read_json(run["verify"]))
        metrics.setdefault(run["study"], {}).setdefault(f"w{run['window']}", {})[run["arch"]] = (
            entry
        )
        name = f"{run['study']}_w{run['window']}_{run['arch']}"
        if training["history"]:  # baselines learn nothing
            write_csv(Path(args.plots) / "loss" / f"{name}.csv", loss_rows(training["history"]))
        predictions = read_npz(run["predictions"])
        one_step = evaluation["target"] in ("next", "shifted")
        if one_step and "target_positions" in predictions:  # one series, one-step forecasts
            write_csv(
                Path(args.plots) / "predictions" / f"{name}.csv", prediction_rows(predictions)
            )
    write_json(args.metrics, metrics)
    logging.info("%d runs summarized -> %s", len(args.runs), args.metrics)


if __name__ == "__main__":
    main()
