"""Give every model its MLflow parent run: the aggregates over its seeds, with one nested
run per seed (the runs its train, evaluate and verify steps logged)."""

from __future__ import annotations

import argparse
import csv
import logging

from forecastlab.cli import configure_logging, json_object
from forecastlab.comparison import parent_comparison
from forecastlab.io import read_json, write_json
from forecastlab.layout import replicates_of, run_name, runs_of
from forecastlab.summary import parent_metrics
from forecastlab.tracking import nest_runs, tracking_uri


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--studies", type=json_object, required=True, help="params.yaml's studies, as JSON"
    )
    parser.add_argument("--aggregates", required=True, help="results/aggregates.csv")
    parser.add_argument("--stateful", required=True, help="results/stateful_vs_stateless.csv")
    parser.add_argument("--confidence-set", required=True, help="results/model_confidence_set.csv")
    parser.add_argument("--output", required=True, help=".json to write: model -> parent run id")
    args = parser.parse_args(argv)
    configure_logging()

    with open(args.aggregates, newline="") as handle:
        aggregates: dict[str, list[dict]] = {}
        for row in csv.DictReader(handle):
            name = run_name(row["study"], row["window"], row["architecture"])
            aggregates.setdefault(name, []).append(row)
    with open(args.stateful, newline="") as handle:
        verdicts = {
            run_name(row["study"], row["window"], row["architecture"]): row
            for row in csv.DictReader(handle)
        }
    with open(args.confidence_set, newline="") as handle:
        confidence: dict[str, list[dict]] = {}
        for row in csv.DictReader(handle):
            name = run_name(row["study"], row["window"], row["model"])
            confidence.setdefault(name, []).append(row)
    uri = tracking_uri()
    parents = {}
    for seeds in replicates_of(runs_of(args.studies)):
        first = seeds[0]
        name = run_name(first["study"], first["window"], first["arch"])
        verdict = verdicts.get(name)
        tags = {"seeds": " ".join(str(run["seed"]) for run in seeds)}
        tags["verified"] = str(all(row["verified"] == "True" for row in aggregates[name])).lower()
        if verdict is not None:
            tags["stateful_verdict"] = verdict["stateful is"]
        mcs_metrics, mcs_tags = parent_comparison(confidence.get(name, []))
        tags |= mcs_tags
        parents[name] = nest_runs(
            uri,
            first["study"],
            name,
            [read_json(run["history"])["run_id"] for run in seeds],
            {"study": first["study"], "window": first["window"], "architecture": first["arch"]},
            parent_metrics(aggregates[name], verdict) | mcs_metrics,
            tags,
        )
    write_json(args.output, parents)
    logging.info("%d models: parent runs with their seeds' runs nested in %s", len(parents), uri)


if __name__ == "__main__":
    main()
