"""Collect every trained model's results into DVC metrics and plot files."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from forecastlab.cli import configure_logging, json_object
from forecastlab.io import read_json, read_npz, write_json
from forecastlab.layout import runs_of
from forecastlab.summary import (
    environments,
    loss_rows,
    metrics_tree,
    prediction_rows,
    stateful_answer,
    stateful_tests,
    stateful_verdicts,
    summary_rows,
    write_csv,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--studies", type=json_object, required=True, help="params.yaml's studies, as JSON"
    )
    parser.add_argument("--summary", required=True, help="summary .csv to write (row per mode)")
    parser.add_argument("--metrics", required=True, help="the same as DVC metrics .json")
    parser.add_argument("--stateful", required=True, help="stateful-vs-stateless .csv to write")
    parser.add_argument(
        "--level", type=float, required=True, help="significance level of the verdicts"
    )
    parser.add_argument("--plots", required=True, help="folder for loss and prediction CSVs")
    parser.add_argument(
        "--environment", required=True, help=".json of every fingerprint, by id, to write"
    )
    args = parser.parse_args(argv)
    configure_logging()

    runs = runs_of(args.studies)
    rows, records, tests = [], [], {}
    for run in runs:
        training, evaluation = read_json(run["history"]), read_json(run["eval"])
        records += [training, evaluation]
        rows += summary_rows(run, evaluation, training, read_json(run["verify"]))
        name = f"{run['study']}_w{run['window']}_{run['arch']}"
        if training["history"]:  # baselines learn nothing
            write_csv(Path(args.plots) / "loss" / f"{name}.csv", loss_rows(training["history"]))
        predictions = read_npz(run["predictions"])
        if "stateful" in predictions:  # a recurrent one-step model on one series
            tests[(run["study"], run["window"], run["arch"])] = stateful_tests(
                predictions, args.level
            )
            write_csv(
                Path(args.plots) / "predictions" / f"{name}.csv", prediction_rows(predictions)
            )
    write_csv(args.summary, rows)
    write_json(args.metrics, metrics_tree(rows))
    write_json(args.environment, environments(records))
    verdicts = stateful_verdicts(rows, tests)
    write_csv(args.stateful, verdicts)
    logging.info("%d runs, %d rows -> %s, %s", len(runs), len(rows), args.summary, args.metrics)
    logging.info("stateful against stateless: %s", stateful_answer(verdicts, args.level))


if __name__ == "__main__":
    main()
