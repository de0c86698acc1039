"""Collect every trained model's results into DVC metrics and plot files."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from forecastlab.cli import configure_logging, json_object
from forecastlab.io import read_json, read_npz, write_json
from forecastlab.layout import replicates_of, runs_of
from forecastlab.summary import (
    aggregate_rows,
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
    parser.add_argument(
        "--summary", required=True, help="summary .csv to write (row per seed and mode)"
    )
    parser.add_argument(
        "--aggregates", required=True, help=".csv to write: per model, mode and metric, over seeds"
    )
    parser.add_argument("--metrics", required=True, help="the aggregates as DVC metrics .json")
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
    models = replicates_of(runs)
    rows, records, tests = [], [], {}
    for replicates in models:
        stateful, histories = [], []
        for run in replicates:
            training, evaluation = read_json(run["history"]), read_json(run["eval"])
            records += [training, evaluation]
            histories.append(training["history"])
            rows += summary_rows(run, evaluation, training, read_json(run["verify"]))
            predictions = read_npz(run["predictions"])
            if "stateful" in predictions:  # a recurrent one-step model on one series
                stateful.append(predictions)
        # DVC's plots show each model's first seed.
        first = replicates[0]
        name = f"{first['study']}_w{first['window']}_{first['arch']}"
        if histories[0]:  # baselines learn nothing
            write_csv(Path(args.plots) / "loss" / f"{name}.csv", loss_rows(histories[0]))
        if stateful:
            tests[(first["study"], first["window"], first["arch"])] = stateful_tests(
                stateful, args.level
            )
            write_csv(
                Path(args.plots) / "predictions" / f"{name}.csv", prediction_rows(stateful[0])
            )
    aggregates = aggregate_rows(rows)
    write_csv(args.summary, rows)
    write_csv(args.aggregates, aggregates)
    write_json(args.metrics, metrics_tree(aggregates, (row["fingerprint"] for row in rows)))
    write_json(args.environment, environments(records))
    verdicts = stateful_verdicts(rows, tests)
    write_csv(args.stateful, verdicts)
    logging.info(
        "%d runs of %d models, %d rows -> %s, %s",
        len(runs),
        len(models),
        len(rows),
        args.summary,
        args.aggregates,
    )
    logging.info("stateful against stateless: %s", stateful_answer(verdicts, args.level))


if __name__ == "__main__":
    main()
