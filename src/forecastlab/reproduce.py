"""The reproduction check: retrain and re-evaluate models in a temporary copy of the
pipeline and compare every metric with the committed results/summary.csv.

    python -m forecastlab.reproduce [SELECTION ...] [--rtol 1e-6] [--cores N] [--keep DIR]

SELECTION is a model (sine/w2/rnn1), a study and window (sine/w2) or a study (sine);
none selects every model of the committed summary. Each metric is printed as bitwise
equal, equal within --rtol, or different with both values; when the environment's
fingerprint differs from the committed one (results/environment.json), both are printed.
Exit status 1 on any difference beyond the tolerance, 2 on a bad selection or a failed
run.

Where bits differ (another TensorFlow build, ARM, a GPU), it also says whether the rerun
agrees with the committed results statistically: whether each differing metric lies
inside the committed seeds' spread (their smallest to largest value), and whether every
stateful verdict of a model whose seeds were all rerun is unchanged, printing those that
changed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from forecastlab.config import load_yaml, validate_params
from forecastlab.io import read_json, read_npz
from forecastlab.layout import RESULTS, parse_run_name, run_file, run_name
from forecastlab.numerics import fingerprint, fingerprint_id
from forecastlab.summary import (
    ABOUT_KEYS,
    ROW_KEYS,
    STATEFUL_MODES,
    stateful_tests,
    stateful_verdicts,
    summary_rows,
    write_csv,
)

# Everything the pipeline needs to run in another directory (outputs excluded).
PIPELINE_FILES = (
    "Snakefile",
    "params.yaml",
    "dvc.yaml",
    "profiles",
    "workflow",
    "envs",
    "src",
    "data/external",
)
# Columns of summary.csv that name a row, describe it, or check it rather than measure
# it: the hand-verification's largest error is numpy's rounding against Keras's, which
# depends on the BLAS kernels of the machine; `verified` (pass or fail) is compared.
NOT_COMPARED = (*ROW_KEYS, *ABOUT_KEYS, "verify_max_abs_error")


def model_name(row: Mapping[str, Any]) -> str:
    """The summary row's model and seed: study/wL/arch/seedN (forecastlab.layout.run_name)."""
    return run_name(row["study"], row["window"], row["architecture"], row["seed"])


def select(rows: Sequence[Mapping[str, str]], selection: Sequence[str]) -> list[Mapping[str, str]]:
    """The summary rows of the models `selection` names (all rows when empty).

    Raises ValueError naming a selection that matches no model of the summary.
    """
    if not selection:
        return list(rows)
    chosen = []
    for spec in selection:
        found = [r for r in rows if f"{model_name(r)}/".startswith(f"{spec.rstrip('/')}/")]
        if not found:
            known = sorted({model_name(r) for r in rows})
            raise ValueError(
                f"{spec!r} names no model of the committed summary; models look like "
                f"{known[0]!r} (study/wL/architecture/seedN), or give a study, study/wL or "
                "study/wL/architecture (every seed)"
            )
        chosen += [r for r in found if r not in chosen]
    return chosen


def compare_value(committed: str, reproduced: str, rtol: float) -> str:
    """ "bitwise", "within rtol" or "different", for two summary cells as CSV writes them
    (floats as their shortest repr, which round-trips: equal text is equal bits)."""
    if committed == reproduced:
        return "bitwise"
    try:
        old, new = float(committed), float(reproduced)
    except ValueError:
        return "different"
    if math.isfinite(old) and math.isfinite(new) and abs(new - old) <= rtol * abs(old):
        return "within rtol"
    return "different"


def compare(
    committed: Iterable[Mapping[str, str]], reproduced: Iterable[Mapping[str, str]], rtol: float
) -> list[dict[str, str]]:
    """One record per (model, mode, metric) of `committed`: its status and both values.

    A row or metric missing from `reproduced` is "different" (reproduced value "missing").
    """
    again = {(model_name(r), r["mode"]): r for r in reproduced}
    records = []
    for row in committed:
        key = (model_name(row), row["mode"])
        new = again.get(key, {})
        for metric, value in row.items():
            if metric in NOT_COMPARED or (value == "" and new.get(metric, "") == ""):
                continue
            other = new.get(metric, "missing")
            records.append(
                {
                    "model": key[0],
                    "mode": key[1],
                    "metric": metric,
                    "status": compare_value(value, other, rtol),
                    "committed": value,
                    "reproduced": other,
                }
            )
    return records


def seed_spreads(rows: Iterable[Mapping[str, str]]) -> dict[tuple, tuple[float, float, int]]:
    """(model without its seed, mode, metric) -> (smallest, largest, number of seeds) of
    the committed values over the model's seeds, for every numeric metric."""
    values: dict[tuple, list[float]] = {}
    for row in rows:
        for metric, value in row.items():
            if metric in NOT_COMPARED:
                continue
            try:
                number = float(value)
            except ValueError:
                continue
            if math.isfinite(number):
                key = (row["study"], row["window"], row["architecture"], row["mode"], metric)
                values.setdefault(key, []).append(number)
    return {key: (min(v), max(v), len(v)) for key, v in values.items()}


def inside_spread(
    record: Mapping[str, str], spreads: Mapping[tuple, tuple[float, float, int]]
) -> bool:
    """Whether a compare() record's reproduced value lies inside the committed seeds'
    spread of its model, mode and metric (a model of one seed has none to lie in)."""
    run = parse_run_name(record["model"])
    key = (run["study"], str(run["length"]), run["arch"], record["mode"], record["metric"])
    low, high, seeds = spreads.get(key, (math.nan, math.nan, 0))
    try:
        value = float(record["reproduced"])
    except ValueError:
        return False
    return seeds > 1 and low <= value <= high


def changed_verdicts(
    committed: Iterable[Mapping[str, str]], reproduced: Iterable[Mapping[str, Any]]
) -> list[str]:
    """Each stateful verdict of `reproduced` (stateful_vs_stateless rows) that differs
    from the committed one of the same model, as "model mode: old -> new"."""
    columns = [f"{name} is" for name in STATEFUL_MODES.values()]
    before = {(r["study"], str(r["window"]), r["architecture"]): r for r in committed}
    changed = []
    for row in reproduced:
        key = (row["study"], str(row["window"]), row["architecture"])
        for column in columns:
            old, new = before.get(key, {}).get(column, ""), row.get(column, "")
            if new and old != new:
                model = run_name(key[0], int(key[1]), key[2])
                mode = column.removesuffix(" is")
                changed.append(f"{model} {mode}: {old or 'none'} -> {new}")
    return changed


def rerun_verdicts(
    copy: Path, models: Sequence[str], committed: Sequence[Mapping[str, str]], level: float
) -> list[dict]:
    """The stateful verdicts of every model whose committed seeds were all rerun in
    `copy`, computed as the summarize job computes them, from the rerun's rows."""
    seeds: dict[tuple, list[str]] = {}
    for row in committed:
        key = (row["study"], int(row["window"]), row["architecture"])
        seeds.setdefault(key, []).append(model_name(row))
    rerun = set(models)
    tests = {}
    for key, names in seeds.items():
        names = list(dict.fromkeys(names))
        if not set(names) <= rerun:
            continue
        predictions = [read_npz(copy / run_file("predictions", name)) for name in names]
        if all("stateful" in p for p in predictions):
            tests[key] = stateful_tests(predictions, level)
    return stateful_verdicts(
        [r for r in committed if (r["study"], int(r["window"]), r["architecture"]) in tests],
        tests,
    )


def fingerprint_lines(committed: Mapping[str, str], here: Mapping[str, str]) -> list[str]:
    """Both fingerprints side by side, key by key, the differing keys marked."""
    lines = []
    for key in dict.fromkeys([*committed, *here]):
        old, new = committed.get(key, "-"), here.get(key, "-")
        lines.append(f"  {'*' if old != new else ' '} {key}: {old} | {new}")
    return lines


def copy_pipeline(repo: Path, target: Path) -> None:
    """The pipeline's code, params and vendored data, without any output."""
    for name in PIPELINE_FILES:
        source, copy = repo / name, target / name
        if source.is_dir():
            shutil.copytree(
                source, copy, ignore=shutil.ignore_patterns("__pycache__"), dirs_exist_ok=True
            )
        elif source.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a summary CSV; one without the columns that name a row and its
    environment raises ValueError naming them (a summary older than the fingerprint)."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in (*ROW_KEYS, "fingerprint") if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"no column {', '.join(missing)}; rerun the pipeline to make it")
        return list(reader)


def reproduce_rows(copy: Path, models: Sequence[str], cores: int) -> list[dict[str, str]]:
    """Run the pipeline in `copy` up to the verification of `models`
    ("study/wL/arch/seedN") and return their summary rows, as the summarize step would
    write them."""
    targets = [
        path for name in models for path in (run_file("eval", name), run_file("verify", name))
    ]
    environment = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{copy}/mlflow.db"}
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", str(cores), *targets],
        cwd=copy,
        env=environment,
        stdout=sys.stderr,
        stderr=sys.stderr,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the pipeline failed in {copy} (exit {done.returncode}): see above")
    rows = []
    for name in models:
        fields = parse_run_name(name)
        run = {"window": fields["length"], **{k: fields[k] for k in ("study", "arch", "seed")}}
        rows += summary_rows(
            run,
            *(read_json(copy / run_file(role, name)) for role in ("eval", "history", "verify")),
        )
    # Through the CSV writer and back, so both sides are text as summary.csv holds it.
    write_csv(copy / "reproduced.csv", rows)
    return read_rows(copy / "reproduced.csv")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m forecastlab.reproduce",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "selection", nargs="*", help="study, study/wL, study/wL/arch or study/wL/arch/seedN"
    )
    parser.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repo", type=Path, default=Path("."), help="checkout to reproduce")
    parser.add_argument(
        "--keep", type=Path, help="run in this folder and keep it (a rerun redoes what changed)"
    )
    args = parser.parse_args(argv)

    repo = args.repo.resolve()
    summary = repo / RESULTS["summary"]
    try:
        committed = select(read_rows(summary), args.selection)
    except (OSError, ValueError) as error:
        print(f"error: {summary}: {error}", file=sys.stderr)
        return 2
    models = list(dict.fromkeys(model_name(r) for r in committed))
    print(f"reproducing {len(models)} model(s) in a temporary copy of {repo.name}", flush=True)

    with tempfile.TemporaryDirectory(prefix="forecastlab-reproduce-") as scratch:
        copy = args.keep.resolve() if args.keep else Path(scratch)
        copy_pipeline(repo, copy)
        try:
            reproduced = reproduce_rows(copy, models, args.cores)
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        params = validate_params(
            load_yaml(repo / "params.yaml"), load_yaml(repo / "workflow/schemas/params.schema.yaml")
        )
        verdicts = rerun_verdicts(copy, models, committed, params["statistics"]["level"])

    records = compare(committed, reproduced, args.rtol)
    for r in records:
        shown = (
            r["committed"] if r["status"] == "bitwise" else f"{r['committed']} -> {r['reproduced']}"
        )
        print(f"{r['model']:<44} {r['mode']:<17} {r['metric']:<22} {r['status']:<12} {shown}")
    differing = [r for r in records if r["status"] != "bitwise"]
    if differing:
        spreads = seed_spreads(read_rows(summary))
        inside = sum(inside_spread(r, spreads) for r in differing)
        print(
            f"statistically: {inside} of the {len(differing)} metrics that differ lie inside "
            "the committed seeds' spread"
        )
        for r in differing:
            if not inside_spread(r, spreads):
                print(f"  outside: {r['model']} {r['mode']} {r['metric']}")
    if verdicts:
        with open(repo / RESULTS["stateful"], newline="") as handle:
            changed = changed_verdicts(csv.DictReader(handle), verdicts)
        print(
            f"stateful verdicts of {len(verdicts)} model(s) with every seed rerun: "
            f"{len(changed)} changed"
        )
        for line in changed:
            print(f"  changed: {line}")
    counts = {
        s: sum(r["status"] == s for r in records) for s in ("bitwise", "within rtol", "different")
    }
    print(
        f"{len(records)} metrics of {len(models)} model(s): {counts['bitwise']} bitwise equal, "
        f"{counts['within rtol']} equal within rtol {args.rtol:g}, {counts['different']} different"
    )
    old_ids = {r["fingerprint"] for r in committed}
    here = fingerprint()
    if old_ids != {fingerprint_id(here)}:
        environments = repo / RESULTS["environment"]
        saved = json.loads(environments.read_text()) if environments.exists() else {}
        for old_id in sorted(old_ids):
            print(f"fingerprints differ: committed {old_id} | here {fingerprint_id(here)}")
            print("\n".join(fingerprint_lines(saved.get(old_id.split("/")[0], {}), here)))
    return 1 if counts["different"] else 0


if __name__ == "__main__":
    sys.exit(main())
