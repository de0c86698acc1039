"""Benchmark: the whole pipeline's wall time, and where it goes, rule by rule.

Runs `snakemake --cores N` on the default params (or a subset of its studies) in a
temporary copy of the pipeline, or in this checkout with --here (its outputs are then the
checkout's, as `bash bin/pipeline` would make them, and only the jobs it redoes are
counted). Every rule writes a Snakemake benchmark file per job (benchmarks/, its wall `s`
and `cpu_time`); this script adds them up per rule, with the pure training time
(history.json's `train_seconds`) and its share of the wall, and writes the table to
bench/results/pipeline.json and as Markdown to stdout.

    python bench/pipeline.py [--studies sine random_walk] [--cores 2] [--here]
        [--output bench/results/pipeline.json] [-- SNAKEMAKE ARGUMENTS]

Arguments after `--` go to Snakemake (`-- --forcerun verify_model` times a rerun of
every hand verification and what depends on it).

Jobs run side by side (--cores of them at once), so a rule's summed job wall exceeds the
pipeline's wall; the CPU seconds are what the jobs cost the machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from forecastlab.reproduce import copy_pipeline  # noqa: E402


def job_figures(root: Path) -> dict[str, list[dict[str, float]]]:
    """Each rule's jobs' wall and CPU seconds, from benchmarks/<rule's log folder>/...tsv."""
    rules: dict[str, list[dict[str, float]]] = {}
    for path in sorted((root / "benchmarks").rglob("*.tsv")):
        with open(path, newline="") as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        folder = path.relative_to(root / "benchmarks").parts[0].removesuffix(".tsv")
        rules.setdefault(folder, []).append({"s": float(row["s"]), "cpu": float(row["cpu_time"])})
    return rules


def training_seconds(root: Path) -> float:
    """The pure training time of every model (history.json's train_seconds), summed."""
    return sum(
        json.loads(path.read_text()).get("train_seconds", 0.0)
        for path in root.glob("models/*/*/*/*/history.json")
    )


def table(rules: dict[str, list[dict[str, float]]], wall: float, training: float) -> list[str]:
    lines = [
        "| rule | jobs | sum of job wall | mean | max | CPU seconds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for rule, jobs in sorted(rules.items(), key=lambda item: -sum(j["s"] for j in item[1])):
        walls = [j["s"] for j in jobs]
        lines.append(
            f"| {rule} | {len(jobs)} | {sum(walls):.0f} s | {sum(walls) / len(walls):.1f} s "
            f"| {max(walls):.1f} s | {sum(j['cpu'] for j in jobs):.0f} |"
        )
    cpu = sum(j["cpu"] for jobs in rules.values() for j in jobs)
    summary = (
        f"\nPipeline wall {wall / 60:.1f} min for {sum(map(len, rules.values()))} jobs, "
        f"{cpu:.0f} CPU seconds"
    )
    if "train" in rules:  # a run that trained: how much of it was the arithmetic
        summary += (
            f"; pure training {training:.0f} s ({training / wall:.0%} of the wall, "
            f"{training / max(cpu, 1e-9):.0%} of the CPU)"
        )
    return [*lines, summary + "."]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", nargs="*", help="a subset of params.yaml's studies")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--here", action="store_true", help="run in this checkout")
    parser.add_argument("--output", type=Path, default=REPO / "bench/results/pipeline.json")
    parser.add_argument("snakemake", nargs="*", help="arguments for Snakemake, after --")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="forecastlab-bench-") as scratch:
        root = REPO if args.here else Path(scratch)
        if args.here:
            shutil.rmtree(root / "benchmarks", ignore_errors=True)  # count this run's jobs only
        else:
            copy_pipeline(REPO, root)
        if args.studies:
            params = yaml.safe_load((REPO / "params.yaml").read_text())
            unknown = sorted(set(args.studies) - set(params["studies"]))
            if unknown:
                parser.error(f"params.yaml has no study {', '.join(unknown)}")
            params["studies"] = {s: params["studies"][s] for s in args.studies}
            (root / "bench-params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        environment = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root}/mlflow.db"}
        if args.studies:
            environment["FORECASTLAB_PARAMS"] = "bench-params.yaml"
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "snakemake", "--cores", str(args.cores), *args.snakemake],
            cwd=root,
            env=environment,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            print(f"error: the pipeline failed (exit {done.returncode})", file=sys.stderr)
            return 1
        rules, training = job_figures(root), training_seconds(root)

    lines = table(rules, wall, training)
    print("\n".join(lines))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "cores": args.cores,
                "studies": args.studies or "all",
                "wall_seconds": wall,
                "training_seconds": training,
                "rules": rules,
                "table": lines,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
