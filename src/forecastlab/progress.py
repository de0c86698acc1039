"""Progress a person can read: one line per finished pipeline job, with the model it made,
its key figure, the overall count, the time elapsed and an estimate of the time left.

    [ 12/358 1:05 elapsed, about 30 min left] sine/w2/rnn1 trained: val_loss 0.00017,
        5.1 s of training (job 9 s)

(one line in the terminal). The figures come from the job's own output files, read after
it finished; the logger plugin `snakemake_logger_plugin_forecastlab` prints the lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forecastlab.io import write_json
from forecastlab.layout import MODEL, RUN, RUN_FILES, TRAIN_RULE, VERIFY_RULE, WINDOW, rule_kind
from forecastlab.modes import VERSUS_STATELESS

# What each rule did, as the line says it.
VERBS = {
    "acquire_series": "acquired",
    "split_series": "split and scaled",
    "window_series": "windows cut",
    TRAIN_RULE: "trained and evaluated",
    VERIFY_RULE: "verified by hand",
    "summarize_results": "results summarized",
    "track_models": "seed runs nested under one MLflow run per model",
    "report_study": "report rendered",
    "report_computations": "computations report rendered",
    "report_index": "index report rendered",
}
# The workflow's target rules (all, all_windows, ...) make nothing themselves.
TARGET_VERB = "every requested output is made"


def job_name(wildcards: Mapping[str, str]) -> str:
    """study/wL/arch/seedN, or as much of it as the job's wildcards give ("" for none):
    the longest of forecastlab.layout's names whose fields they all hold."""
    for pattern in (RUN, MODEL, WINDOW, "{study}"):
        try:
            return pattern.format(**wildcards)
        except KeyError:
            continue
    return ""


def _outputs(outputs: Sequence[str], role: str) -> list[dict[str, Any]]:
    """The JSON output files of `role` (forecastlab.layout.RUN_FILES), read, in order (a
    train job has one per seed); an absent or unreadable one is left out."""
    name = Path(RUN_FILES[role]).name
    found = []
    for path in outputs:
        if Path(path).name == name:
            try:
                found.append(json.loads(Path(path).read_text()))
            except (OSError, ValueError):
                continue
    return found


def _output(outputs: Sequence[str], role: str) -> dict[str, Any] | None:
    """The first JSON output file of `role`, read; None if there is none."""
    return next(iter(_outputs(outputs, role)), None)


def _trained(outputs: Sequence[str]) -> str:
    histories = _outputs(outputs, "history")
    if not histories:
        return ""
    loss = "final_val_loss" if "final_val_loss" in histories[0] else "final_loss"
    if loss not in histories[0]:
        return ""  # a baseline: nothing to train
    values = sorted(history[loss] for history in histories if loss in history)
    shown = f"{values[0]:.3g}" if len(values) == 1 else f"{values[0]:.3g} to {values[-1]:.3g}"
    seeds = f" over {len(histories)} seeds" if len(histories) > 1 else ""
    seconds = [history["train_seconds"] for history in histories if "train_seconds" in history]
    training = f", {sum(seconds):.1f} s of training" if seconds else ""
    return f"{loss.removeprefix('final_')} {shown}{seeds}{training}"


def _evaluated(outputs: Sequence[str]) -> str:
    modes = (_output(outputs, "eval") or {}).get("modes", {})
    # The stateful question's two modes (stateless, and the first mode tested against
    # it), else the first (eval.json sorts its modes).
    question = ("stateless", next(iter(VERSUS_STATELESS)))
    chosen = [mode for mode in question if mode in modes] or list(modes)[:1]
    shown = [f"{mode} MSE {modes[mode]['mse']:.3g}" for mode in chosen if "mse" in modes[mode]]
    more = len(modes) - len(shown)
    return ", ".join(shown) + (f" and {more} more mode{'s' * (more > 1)}" if more > 0 else "")


def _verified(outputs: Sequence[str]) -> str:
    reports = _outputs(outputs, "verify")
    errors = [
        mode["max_abs_error"]
        for report in reports
        for mode in report.get("modes", {}).values()
        if "max_abs_error" in mode
    ]
    seeds = f" over {len(reports)} seeds" if len(reports) > 1 else ""
    return f"max |numpy - Keras| {max(errors):.2g}{seeds}" if errors else ""


def _trained_and_evaluated(outputs: Sequence[str]) -> str:
    return "; ".join(part for part in (_trained(outputs), _evaluated(outputs)) if part)


# forecastlab.data's log line when a download fails and the vendored copy is read instead.
_FALLBACK = re.compile(r"download of (\S+) failed \((.*)\)$", re.MULTILINE)


def _acquired(files: Sequence[str]) -> str:
    """Said only when the download fell back to the vendored copy (from the job's log)."""
    for path in files:
        if path.endswith(".log"):
            try:
                found = _FALLBACK.search(Path(path).read_text())
            except OSError:
                continue
            if found:
                return f"download failed ({found[2]}), read the vendored copy instead"
    return ""


# A job's figure, from its files (outputs and logs).
FIGURES: dict[str, Callable[[Sequence[str]], str]] = {
    "acquire_series": _acquired,
    TRAIN_RULE: _trained_and_evaluated,
    VERIFY_RULE: _verified,
}


def job_summary(
    rule: str, wildcards: Mapping[str, str], outputs: Sequence[str], logs: Sequence[str] = ()
) -> str:
    """What a finished job made, e.g. "sine/w2/rnn1 trained: val_loss 0.00017, 5.1 s of
    training"; the figure is left out when the job's outputs and logs do not hold it."""
    name = job_name(wildcards)
    rule = rule_kind(rule)  # a train or verify rule: one per seed list
    verb = VERBS.get(rule, TARGET_VERB if rule.startswith("all") else f"{rule} done")
    said = f"{name} {verb}" if name else verb
    figure = FIGURES[rule]([*outputs, *logs]) if rule in FIGURES else ""
    return f"{said}: {figure}" if figure else said


def clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# Every job of the run, written at its start (common.smk's onstart) for the logger plugin:
# the time left is estimated job by job, from what each job is.
PLAN = ".snakemake/forecastlab/plan.json"


def job_kind(rule: str, wildcards: Mapping[str, str]) -> str:
    """What a job is: its rule and what it makes, a model, window or study
    ("train_model_sine_seeds_42_to_46 sine/w50/gru"), by which a job of the last run
    and its job of this run are known as one."""
    return f"{rule} {job_name(wildcards)}".strip()


def recorded_wall(benchmark: str | Path | None) -> float | None:
    """A job's wall seconds in the last run, from its benchmark record; None without one."""
    if not benchmark:
        return None
    try:
        header, values = Path(benchmark).read_text().splitlines()[:2]
        return float(dict(zip(header.split("\t"), values.split("\t"), strict=True))["s"])
    except (OSError, ValueError, KeyError):
        return None


def write_plan(jobs: Iterable[tuple[str, Mapping[str, str], str | None]], path: str = PLAN) -> None:
    """Write the run's jobs, each (rule, wildcards, its benchmark file), as PLAN: its rule,
    kind and wall in the last run."""
    plan = [
        {"rule": rule, "kind": job_kind(rule, wildcards), "last_wall": recorded_wall(benchmark)}
        for rule, wildcards, benchmark in jobs
    ]
    write_json(path, plan)  # whole or not at all: the logger reads it while Snakemake runs


@dataclass(frozen=True)
class Estimate:
    """The wall seconds the pending jobs will take one after the other, the share of them
    guessed from other jobs of the same rule (no job of the kind seen, in this run or the
    last), and how many jobs could not be estimated at all."""

    seconds: float
    guessed: float
    unknown: int


def estimate_work(
    pending: Sequence[tuple[str, str | None]],
    walls: Mapping[str, Sequence[float]],
    last_walls: Mapping[str, Sequence[float]],
) -> Estimate:
    """Each pending (rule, kind) job takes what this run's finished jobs of its kind took
    on average (`walls`, by kind and, for the guess, by rule), else what they took in the
    last run (`last_walls` by kind), else the mean of its rule's finished jobs (a guess: the
    kinds of one rule differ tenfold), else it is unknown."""
    sure = guessed = 0.0
    unknown = 0
    for rule, kind in pending:
        seen = walls.get(kind) if kind else None
        seen = seen or (last_walls.get(kind) if kind else None)
        if seen:
            sure += sum(seen) / len(seen)
        elif walls.get(rule):
            guessed += sum(walls[rule]) / len(walls[rule])
        else:
            unknown += 1
    total = sure + guessed
    return Estimate(total, guessed / total if total else 0.0, unknown)


def time_left(estimate: Estimate, busy: float, elapsed: float) -> str:
    """The estimate as the progress line says it, with how sure it is: the jobs run as
    many at a time as the finished ones did (`busy`, their summed wall, over the `elapsed`
    seconds); the share guessed from other jobs of a rule and the jobs not counted at all
    are said when there are any."""
    if busy <= 0 or elapsed <= 0 or (estimate.seconds == 0 and estimate.unknown):
        return "estimating"
    seconds = estimate.seconds / max(busy / elapsed, 1.0)
    said = [f"about {seconds:.0f} s left" if seconds < 90 else f"about {seconds / 60:.0f} min left"]
    if estimate.guessed >= 0.005:
        said.append(f"{estimate.guessed:.0%} guessed")
    if estimate.unknown:
        said.append(f"{estimate.unknown} job{'s' * (estimate.unknown > 1)} not counted")
    return ", ".join(said)


def progress_line(
    done: int, total: int, elapsed: float, left: str, summary: str, job_seconds: float | None
) -> str:
    """The line printed when the `done`-th of `total` jobs finished; `left` as time_left
    says it."""
    width = len(str(total))
    job = f" (job {job_seconds:.0f} s)" if job_seconds is not None else ""
    return f"[{done:>{width}}/{total} {clock(elapsed)} elapsed, {left}] {summary}{job}"
