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
    python bench/pipeline.py --side-by-side [--cores 2]

--side-by-side runs params.yaml's seeds and then one seed per model, one after the other
(with --here, the first in this checkout and the second under runs/), and gives each
study's pure training time in both, in all and per trained model (the model with all its
seeds): what the replicates cost.

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
    parse_run_name,
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


def training_seconds(root: Path) -> dict[str, float]:
    """The pure training time of every model (history.json's train_seconds), summed per
    study."""
    pattern = run_file("history", RUN.format(study="*", length="*", arch="*", seed="*"))
    studies: dict[str, float] = {}
    for path in sorted(root.glob(pattern)):
        study = parse_run_name(path.relative_to(root / "models").parent.as_posix())["study"]
        seconds = json.loads(path.read_text()).get("train_seconds", 0.0)
        studies[study] = studies.get(study, 0.0) + seconds
    return studies


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


def bench_params(params: dict, args: argparse.Namespace, seeds: int | None) -> dict | str:
    """params.yaml with only the studies named in args.studies, every model trained
    `seeds` times if given; or the error message for a study it does not have."""
    if args.studies:
        unknown = sorted(set(args.studies) - set(params["studies"]))
        if unknown:
            return f"params.yaml has no study {', '.join(unknown)}"
        params["studies"] = {study: params["studies"][study] for study in args.studies}
    if seeds:
        for spec in params["studies"].values():
            spec["seeds"] = seeds
            for hyperparams in spec.get("models", {}).values():
                hyperparams.pop("seeds", None)
    return params


def run_pipeline(args: argparse.Namespace, seeds: int | None) -> dict | str:
    """One run of the pipeline as `args` ask, every model trained `seeds` times (None:
    params.yaml's seeds): its figures, or an error message."""
    with tempfile.TemporaryDirectory(prefix="forecastlab-bench-") as scratch:
        root = REPO if args.here else Path(scratch)
        if not args.here:
            copy_pipeline(REPO, root)
        environment = dict(os.environ)
        # A subset of the params is another params file: its outputs live apart.
        outputs = root
        if args.studies or seeds:
            params = bench_params(yaml.safe_load((REPO / "params.yaml").read_text()), args, seeds)
            if isinstance(params, str):
                return params
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
        if args.here:
            (root / BENCH_PARAMS).unlink(missing_ok=True)
        if snakemake.returncode != 0:
            return f"the pipeline failed (exit {snakemake.returncode})"
        rules = job_figures(outputs)
        training, evaluations = training_seconds(outputs), evaluation_seconds(outputs)
    lines = table(rules, wall, cpu, own_cpu, sum(training.values()), evaluations)
    return {
        "cores": args.cores,
        "studies": args.studies or "all",
        "seeds": seeds or "params.yaml's",
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "own_cpu_seconds": own_cpu,
        "training_seconds": sum(training.values()),
        "training_by_study": training,
        "evaluation_seconds": evaluations,
        "rules": rules,
        "table": lines,
    }


def side_by_side(runs: dict[str, dict]) -> list[str]:
    """Per study, the pure training seconds of each run, in all and per trained model (the
    model with all its seeds), and the runs' walls."""
    names = list(runs)
    header = " | ".join(f"{name}: training, per model" for name in names)
    lines = [f"| study | models | {header} |", "|---|---:|" + "---:|" * len(names)]
    studies = dict.fromkeys(study for run in runs.values() for study in run["training_by_study"])
    for study in studies:
        models = runs[names[0]]["models_by_study"].get(study, 0)
        cells = []
        for run in runs.values():
            seconds = run["training_by_study"].get(study, 0.0)
            cells.append(f"{seconds:.0f} s, {seconds / max(models, 1):.1f} s")
        lines.append(f"| {study} | {models} | {' | '.join(cells)} |")
    walls = ", ".join(f"{name} {run['wall_seconds'] / 60:.1f} min" for name, run in runs.items())
    return [*lines, f"\nPipeline wall: {walls}."]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", nargs="*", help="a subset of params.yaml's studies")
    parser.add_argument(
        "--seeds", type=int, help="train every model this many times instead (1: no replicates)"
    )
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="run params.yaml's seeds and then one seed per model, and compare per study",
    )
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--here", action="store_true", help="run in this checkout")
    parser.add_argument("--output", type=Path, default=REPO / "bench/results/pipeline.json")
    parser.add_argument("snakemake", nargs="*", help="arguments for Snakemake, after --")
    args = parser.parse_args(argv)
    if args.side_by_side and args.seeds:
        parser.error("--side-by-side runs its own seeds")

    configurations = {"seeds of params.yaml": None, "one seed": 1}
    if not args.side_by_side:
        configurations = {"run": args.seeds}
    runs = {}
    for name, seeds in configurations.items():
        found = run_pipeline(args, seeds)
        if isinstance(found, str):
            print(f"error: {found}", file=sys.stderr)
            return 1
        found["models_by_study"] = models_by_study(args, seeds)
        print(f"## {name}\n" if args.side_by_side else "", end="")
        print("\n".join(found["table"]) + "\n")
        runs[name] = found
    result = next(iter(runs.values()))
    if args.side_by_side:
        comparison = side_by_side(runs)
        print("\n".join(comparison))
        result = {"runs": runs, "side_by_side": comparison}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def models_by_study(args: argparse.Namespace, seeds: int | None) -> dict[str, int]:
    """How many models (a model being all its seeds) each study trains in the run."""
    from forecastlab.architectures import ARCHITECTURES
    from forecastlab.config import load_yaml, validate_params
    from forecastlab.layout import study_runs

    params = bench_params(yaml.safe_load((REPO / "params.yaml").read_text()), args, seeds)
    schema = load_yaml(REPO / "workflow/schemas/params.schema.yaml")
    studies = validate_params(params, schema, root=REPO)["studies"]
    return {
        study: sum(ARCHITECTURES[arch].trained for _, arch in study_runs(spec))
        for study, spec in studies.items()
    }


if __name__ == "__main__":
    sys.exit(main())
