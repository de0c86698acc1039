"""Benchmark: Snakemake's own CPU time on many short jobs, with and without
forecastlab.scheduling's timer fix, and with the profile settings that might replace it.

Each variant runs the same throw-away workflow (--jobs short jobs of --seconds each, on
--cores) in a temporary folder and records Snakemake's wall and CPU time (its process
and its threads; the jobs are its children and are not counted) and whether it exited
within a minute of its last job. It writes bench/results/scheduler.json and a Markdown
table to stdout.

    python bench/scheduler.py [--jobs 300] [--seconds 0.2] [--cores 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

# name -> (apply the fix, extra Snakemake arguments)
VARIANTS = {
    "Snakemake's defaults (100/1s)": (False, []),
    "forecastlab.scheduling fix": (True, []),
    "--max-jobs-per-timespan 1000/1s": (False, ["--max-jobs-per-timespan", "1000/1s"]),
    "--max-jobs-per-timespan 100000/10s": (False, ["--max-jobs-per-timespan", "100000/10s"]),
}

SNAKEFILE = textwrap.dedent(
    """
    import os
    if os.environ.get("FIX") == "1":
        from snakemake.scheduling.job_scheduler import JobScheduler
        from forecastlab.scheduling import arm_one_timer_at_a_time
        arm_one_timer_at_a_time(JobScheduler)

    rule all:
        input: expand("out/{{i}}.txt", i=range({jobs}))

    rule one:
        output: "out/{{i}}.txt"
        shell: "sleep {seconds} && touch {{output}}"
    """
)


def run(folder: Path, fix: bool, arguments: list[str], cores: int) -> dict:
    """One Snakemake run in `folder`: its wall, its CPU seconds, and how long it took to
    exit after its last job's output appeared."""
    for stale in (folder / "out").glob("*"):
        stale.unlink()
    environment = dict(os.environ, FIX="1" if fix else "0")
    command = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--quiet", "all"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen([*command, *arguments], cwd=folder, env=environment)
    try:
        process.wait(timeout=600)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    last_output = max(path.stat().st_mtime for path in (folder / "out").glob("*"))
    # The jobs' own CPU (sleep and touch) is counted too; it is the same in every variant.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "exit_after_last_job_s": round(time.time() - last_output, 1),
        "status": process.returncode,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=0.2)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--output", default="bench/results/scheduler.json")
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "Snakefile").write_text(SNAKEFILE.format(jobs=args.jobs, seconds=args.seconds))
        for name, (fix, arguments) in VARIANTS.items():
            results[name] = run(Path(folder), fix, arguments, args.cores)
            print(name, results[name], file=sys.stderr)
    baseline = results[next(iter(VARIANTS))]["cpu_s"]
    record = {
        "jobs": args.jobs,
        "seconds_per_job": args.seconds,
        "cores": args.cores,
        "snakemake": subprocess.run(
            [sys.executable, "-m", "snakemake", "--version"], capture_output=True, text=True
        ).stdout.strip(),
        "variants": results,
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(record, indent=2) + "\n")
    print(f"{args.jobs} jobs of {args.seconds} s on {args.cores} cores\n")
    print("| variant | wall s | CPU s | CPU vs defaults | exit after last job s | status |")
    print("|---|---|---|---|---|---|")
    for name, found in results.items():
        print(
            f"| {name} | {found['wall_s']} | {found['cpu_s']} | "
            f"{found['cpu_s'] / baseline:.2f} | {found['exit_after_last_job_s']} | "
            f"{found['status']} |"
        )


if __name__ == "__main__":
    main()
