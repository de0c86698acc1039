"""Benchmark: what the pairwise tests and the model confidence sets add to summarize.

Synthetic losses of the default run's sizes: per study, window and kind of forecast, as
many models, seeds and test targets as params.yaml's defaults give (the sizes below,
taken from the committed run's results/model_confidence_set.csv), plus the largest case
the comparison is built for: 16 models on 1250 targets of one series. Each group runs
`forecastlab.comparison.compare` (every pair's Diebold-Mariano test, Holm's adjustment,
arch's MCS with the default bootstrap: 1000 resamples) as the summarize step does. The
time is the fastest of `--repeats` runs of all the groups, written to
bench/results/model_confidence_set.json by default. Usage:

    python bench/model_confidence_set.py [--repeats 3] [--output FILE.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from forecastlab.comparison import Candidate, compare

# (study, window, kind, models, seeds, targets, one series) of the default params.
DEFAULT_GROUPS = [
    ("sine", 2, "next value", 8, 5, 1249, True),
    ("sine", 10, "next value", 9, 5, 1241, True),
    ("sine", 50, "next value", 9, 5, 1201, True),
    ("sine_noisy", 2, "next value", 3, 5, 1249, True),
    ("sine_noisy", 10, "next value", 3, 5, 1241, True),
    ("sine_noisy", 50, "next value", 3, 5, 1201, True),
    ("synthetic", 50, "next value", 6, 3, 1000, False),
    ("synthetic", 50, "next 10 values", 15, 3, 1000, False),
    ("random_walk", 20, "next value", 2, 3, 1, True),
    ("sunspots", 12, "next value", 8, 5, 46, True),
    ("sunspots", 24, "next value", 8, 5, 23, True),
    ("sunspots", 48, "next value", 8, 5, 11, True),
    ("daily_min_temperatures", 7, "next value", 6, 5, 723, True),
    ("daily_min_temperatures", 30, "next value", 6, 5, 700, True),
    ("daily_min_temperatures", 90, "next value", 6, 5, 640, True),
    ("airline_passengers", 12, "next value", 7, 5, 24, True),
    ("airline_passengers", 24, "next value", 7, 5, 12, True),
]
LARGEST = ("largest", 50, "next value", 16, 5, 1250, True)
MCS = {"seed": 42, "reps": 1000, "block_size": None}


def group_candidates(group: tuple, rng: np.random.Generator) -> list[Candidate]:
    """A group's candidates: errors of each model's seeds (seeds, targets) or (seeds,
    targets, 10), models' error scales 1 to 1.5 so that some differ and some do not."""
    study, window, kind, models, seeds, targets, one_series = group
    steps = (10,) if kind.startswith("next 10") else ()
    return [
        Candidate(
            study,
            window,
            f"model{m}",
            "stateless",
            kind,
            (1 + m / (2 * models)) * rng.normal(size=(seeds, targets, *steps)),
            np.zeros((targets, *steps)),
            one_series,
        )
        for m in range(models)
    ]


def timed(groups: list[list[Candidate]], repeats: int) -> tuple[float, tuple[list, list]]:
    """The fastest of `repeats` comparisons of every group, and its tables."""
    best, tables = float("inf"), ([], [])
    for _ in range(repeats):
        started = time.perf_counter()
        tables = compare([c for group in groups for c in group], 0.05, MCS)
        best = min(best, time.perf_counter() - started)
    return best, tables


def import_seconds(repeats: int) -> float:
    """The fastest of `repeats` imports of arch's bootstrap in a fresh interpreter (with
    numpy, scipy and pandas, which summarize imports anyway, loaded first)."""
    code = (
        "import time, numpy, scipy.stats, pandas; t = time.perf_counter(); "
        "import arch.bootstrap; print(time.perf_counter() - t)"
    )
    return min(
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repeats)
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default="bench/results/model_confidence_set.json")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    default = [group_candidates(group, rng) for group in DEFAULT_GROUPS]
    seconds, (pairwise, members) = timed(default, args.repeats)
    per_group = []
    for group, candidates in zip(DEFAULT_GROUPS, default, strict=True):
        one, _ = timed([candidates], args.repeats)
        per_group.append(
            {"group": f"{group[0]}/w{group[1]} {group[2]}", "models": group[3], "seconds": one}
        )
    largest, _ = timed([group_candidates(LARGEST, rng)], args.repeats)
    imported = import_seconds(args.repeats)
    result = {
        "default_run_seconds": round(seconds, 3),
        "import_arch_seconds": round(imported, 3),
        "default_run_pairs": len(pairwise),
        "default_run_models": len(members),
        "largest_group_seconds": round(largest, 3),
        "largest_group": "16 models, 5 seeds, 1250 targets of one series",
        "bootstrap": MCS,
        "per_group": [{**g, "seconds": round(g["seconds"], 3)} for g in per_group],
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"default run: {len(DEFAULT_GROUPS)} groups, {len(members)} models, "
        f"{len(pairwise)} pairs in {seconds:.2f} s, plus {imported:.2f} s to import arch; "
        f"16 models on 1250 targets: {largest:.2f} s"
    )


if __name__ == "__main__":
    main()
