"""Benchmark: the whole pipeline's wall time, and where it goes, rule by rule.

Runs `snakemake --cores N` on the default params (or a subset of its studies) in a
temporary copy of the pipeline, or in this checkout with --here (its outputs are then the
checkout's, as `bash bin/pipeline` would make them, and only the jobs it redoes are
counted). Every job writes a benchmark file in Snakemake's columns (benchmarks/, its wall
`s` and `cpu_time`; a train or verify job's is written by its fork-server client and
measures the child that did the work); this script adds them up per rule, and gives the
run's whole CPU time (Snakemake and the fork server included) and the pure training time
(history.json's `train_seconds`) with its share of the wall, and the slowest model's
evaluation (its train log's "evaluated in" line). It writes the table to
bench/results/pipeline.json and as Markdown to stdout.

    python bench/pipeline.py [--studies sine random_walk] [--seeds 1] [--cores 2] [--here]
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
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from forecastlab.layout import (  # noqa: E402
    FORKSERVER_LOG,
    RUN,
    job_log,
    output_folder,
    run_file,
)
from forecastlab.reproduce import copy_pipeline  # noqa: E402

# The params file of a benchmark of some studies or another number of seeds.
BENCH_PARAMS = "bench-params.yaml"


def job_figures(root: Path) -> dict[str, list[dict[str, float]]]:
    """Each rule's jobs' wall and CPU seconds, from benchmarks/<rule's log folder>/...tsv."""
    rules: dict[str, list[dict[str, float]]] = {}
    for path in sorted((root / "benchmarks").rglob("*.tsv")):
        with open(path, newline="") as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        folder = path.relative_to(root / "benchmarks").parts[0].removesuffix(".tsv")
        rules.setdefault(folder, []).append({"s": float(row["s"]), "cpu": float(row["cpu_time"])})
    return rules


def children_cpu() -> float:
    """CPU seconds of this process's ended children and theirs (Snakemake, its jobs, the
    fork server and its children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def watch_own_cpu(process: subprocess.Popen) -> dict[str, float]:
    """Wait for the Snakemake `process`, sampling the CPU seconds that it and the fork
    server use themselves (not their jobs) every half second; return the last samples."""
    own = {"snakemake": 0.0, "forkserver": 0.0}
    watched = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            own["snakemake"] = sum(watched.cpu_times()[:2])
            for child in watched.children():
                if "--serve" in child.cmdline():
                    own["forkserver"] = sum(child.cpu_times()[:2])
        except psutil.Error:
            pass  # it ended between two looks
        time.sleep(0.5)
    return own


def training_seconds(root: Path) -> float:
    """The pure training time of every model (history.json's train_seconds), summed."""
    return sum(
        json.loads(path.read_text()).get("train_seconds", 0.0)
        for path in root.glob(
            run_file("history", RUN.format(study="*", length="*", arch="*", seed="*"))
        )
    )


def evaluation_seconds(root: Path) -> dict[str, float]:
    """Each model's evaluation time, every mode included, from its train job's log
    ("<model>: evaluated in X s"): the train job evaluates the model it trained."""
    pattern = re.compile(r"(\S+): evaluated in ([\d.]+) s")
    return {
        name: float(seconds)
        for path in sorted(root.glob(job_log("train", "**/*")))
        for name, seconds in pattern.findall(path.read_text())
    }


def table(
    rules: dict[str, list[dict[str, float]]],
    wall: float,
    cpu: float,
    own_cpu: dict[str, float],
    training: float,
    evaluations: dict[str, float],
) -> list[str]:
    """The per-rule Markdown table and a summary line. A rule's CPU seconds are its jobs'
    (benchmark files; a train or verify job's record is its fork-server child's); `cpu` is
    the whole run's, Snakemake and the fork server included (`own_cpu`: what each used
    itself)."""
    lines = [
        "| rule | jobs | sum of job wall | mean | max | CPU seconds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for rule, jobs in sorted(rules.items(), key=lambda item: -sum(j["s"] for j in item[1])):
        walls = [j["s"] for j in jobs]
        rule_cpu = sum(j["cpu"] for j in jobs)
        lines.append(
            f"| {rule} | {len(jobs)} | {sum(walls):.0f} s | {sum(walls) / len(walls):.1f} s "
            f"| {max(walls):.1f} s | {rule_cpu:.0f} |"
        )
    summary = (
        f"\nPipeline wall {wall / 60:.1f} min for {sum(map(len, rules.values()))} jobs, "
        f"{cpu:.0f} CPU seconds in all (Snakemake itself {own_cpu['snakemake']:.0f}, the fork "
        f"server's imports {own_cpu['forkserver']:.0f})"
    )
    if "train" in rules:  # a run that trained: how much of it was the arithmetic
        summary += (
            f"; pure training {training:.0f} s ({training / wall:.0%} of the wall, "
            f"{training / max(cpu, 1e-9):.0%} of the CPU)"
        )
    if evaluations:
        slowest = max(evaluations, key=evaluations.__getitem__)
        summary += (
            f". Evaluation (every mode of a model, in its train job) "
            f"{sum(evaluations.values()):.0f} s for {len(evaluations)} models, "
            f"the slowest {evaluations[slowest]:.1f} s ({slowest})"
        )
    return [*lines, summary + "."]


def bench_params(params: dict, args: argparse.Namespace) -> dict | str:
    """params.yaml with only the studies named in args.studies, every model trained
    args.seeds times if given; or the error message for a study it does not have."""
    if args.studies:
        unknown = sorted(set(args.studies) - set(params["studies"]))
        if unknown:
            return f"params.yaml has no study {', '.join(unknown)}"
        params["studies"] = {study: params["studies"][study] for study in args.studies}
    if args.seeds:
        for spec in params["studies"].values():
            spec["seeds"] = args.seeds
            for hyperparams in spec.get("models", {}).values():
                hyperparams.pop("seeds", None)
    return params


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", nargs="*", help="a subset of params.yaml's studies")
    parser.add_argument(
        "--seeds", type=int, help="train every model this many times instead (1: no replicates)"
    )
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--here", action="store_true", help="run in this checkout")
    parser.add_argument("--output", type=Path, default=REPO / "bench/results/pipeline.json")
    parser.add_argument("snakemake", nargs="*", help="arguments for Snakemake, after --")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="forecastlab-bench-") as scratch:
        root = REPO if args.here else Path(scratch)
        if not args.here:
            copy_pipeline(REPO, root)
        environment = dict(os.environ)
        # A subset of the params is another params file: its outputs live apart.
        outputs = root
        if args.studies or args.seeds:
            params = bench_params(yaml.safe_load((REPO / "params.yaml").read_text()), args)
            if isinstance(params, str):
                parser.error(params)
            (root / BENCH_PARAMS).write_text(yaml.safe_dump(params, sort_keys=False))
            environment["FORECASTLAB_PARAMS"] = BENCH_PARAMS
            outputs = output_folder(root / BENCH_PARAMS, root)
        environment["MLFLOW_TRACKING_URI"] = f"sqlite:///{outputs}/mlflow.db"
        # Count this run's jobs only.
        shutil.rmtree(outputs / "benchmarks", ignore_errors=True)
        (outputs / FORKSERVER_LOG).unlink(missing_ok=True)
        started = time.perf_counter()
        cpu_before = children_cpu()
        snakemake = subprocess.Popen(
            [sys.executable, "-m", "snakemake", "--cores", str(args.cores), *args.snakemake],
            cwd=root,
            env=environment,
        )
        own_cpu = watch_own_cpu(snakemake)
        wall = time.perf_counter() - started
        cpu = children_cpu() - cpu_before
        if snakemake.returncode != 0:
            print(f"error: the pipeline failed (exit {snakemake.returncode})", file=sys.stderr)
            return 1
        rules = job_figures(outputs)
        training, evaluations = training_seconds(outputs), evaluation_seconds(outputs)

    lines = table(rules, wall, cpu, own_cpu, training, evaluations)
    print("\n".join(lines))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "cores": args.cores,
                "studies": args.studies or "all",
                "seeds": args.seeds or "params.yaml's",
                "wall_seconds": wall,
                "cpu_seconds": cpu,
                "own_cpu_seconds": own_cpu,
                "training_seconds": training,
                "evaluation_seconds": evaluations,
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
