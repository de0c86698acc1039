"""Collect every trained model's results into tables, DVC metrics and DVC plot files."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from forecastlab.claims import claim_rows, claims_tree
from forecastlab.cli import configure_logging, json_object
from forecastlab.comparison import (
    PAIRWISE_COLUMNS,
    SET_COLUMNS,
    candidates,
    compare,
    comparison_tree,
    merged,
)
from forecastlab.dvcplots import ONE_SERIES_ARRAYS, curve_rows, forecast_rows
from forecastlab.io import read_json, read_npz, write_json
from forecastlab.layout import replicates_of, runs_of
from forecastlab.summary import (
    STATEFUL_COLUMNS,
    aggregate_rows,
    environments,
    has_stateful_forecasts,
    metrics_tree,
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
    parser.add_argument(
        "--mcs", type=json_object, required=True, help="params' statistics.mcs, as JSON"
    )
    parser.add_argument("--pairwise", required=True, help="pairwise tests .csv to write")
    parser.add_argument(
        "--confidence-set", required=True, help="model confidence set .csv to write"
    )
    parser.add_argument("--claims", required=True, help="the tutorials' claims .csv to write")
    args = parser.parse_args(argv)
    configure_logging()

    runs = runs_of(args.studies)
    models = replicates_of(runs)
    rows, records, tests, found = [], [], {}, []
    plots: dict[str, dict[str, list]] = {"curves": {}, "forecasts": {}}
    for replicates in models:
        stateful, histories, first_predictions, every_seed = [], [], None, []
        for run in replicates:
            training, evaluation = read_json(run["history"]), read_json(run["eval"])
            records += [training, evaluation]
            histories.append(training["history"])
            rows += summary_rows(run, evaluation, training, read_json(run["verify"]))
            predictions = read_npz(run["predictions"])
            every_seed.append(predictions)
            if first_predictions is None:
                first_predictions = predictions
            if has_stateful_forecasts(predictions):  # a recurrent one-step model on one series
                stateful.append(predictions)
        first = replicates[0]
        found += candidates(
            first["study"],
            first["window"],
            first["arch"],
            evaluation["target"],
            evaluation["horizon"],
            every_seed,
        )
        if stateful:
            tests[(first["study"], first["window"], first["arch"])] = stateful_tests(
                stateful, args.level
            )
        # DVC's plots draw each model's first seed, a panel per model in its study's plot.
        model = f"w{first['window']}/{first['arch']}"
        study_plots = {kind: plots[kind].setdefault(first["study"], []) for kind in plots}
        study_plots["curves"] += curve_rows(model, histories[0])
        if ONE_SERIES_ARRAYS <= set(first_predictions):
            study_plots["forecasts"] += forecast_rows(model, first_predictions)
    aggregates = aggregate_rows(rows)
    verdicts = stateful_verdicts(rows, tests)
    started = time.perf_counter()
    pairwise, members = compare(found, args.level, args.mcs)
    claims = claim_rows(
        pairwise, {name: spec["source"]["kind"] for name, spec in args.studies.items()}
    )
    compared = time.perf_counter() - started
    write_csv(args.pairwise, pairwise, empty_columns=PAIRWISE_COLUMNS)
    write_csv(args.confidence_set, members, empty_columns=SET_COLUMNS)
    write_csv(args.claims, claims)
    write_csv(args.summary, rows)
    write_csv(args.aggregates, aggregates)
    write_csv(args.stateful, verdicts, empty_columns=STATEFUL_COLUMNS)
    fingerprints = (row["fingerprint"] for row in rows)
    tree = metrics_tree(aggregates, verdicts, fingerprints)
    tree = merged(tree, comparison_tree(members, pairwise) | {"claims": claims_tree(claims)})
    write_json(args.metrics, tree)
    write_json(args.environment, environments(records))
    for kind, studies in plots.items():
        for study, study_rows in studies.items():
            if study_rows:  # a study of baselines has no curves
                write_csv(Path(args.plots) / kind / f"{study}.csv", study_rows)
    logging.info(
        "%d runs of %d models, %d rows -> %s, %s",
        len(runs),
        len(models),
        len(rows),
        args.summary,
        args.aggregates,
    )
    logging.info("stateful against stateless: %s", stateful_answer(verdicts, args.level))
    logging.info(
        "%d pairwise tests and the confidence sets of %d models in %.2f s -> %s, %s",
        len(pairwise),
        len(members),
        compared,
        args.pairwise,
        args.confidence_set,
    )


if __name__ == "__main__":
    main()
