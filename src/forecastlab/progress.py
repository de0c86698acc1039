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
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

# What each rule did, as the line says it.
VERBS = {
    "acquire_series": "acquired",
    "split_series": "split and scaled",
    "window_series": "windows cut",
    "train_model": "trained and evaluated",
    "verify_model": "verified by hand",
    "summarize_results": "results summarized",
    "track_models": "seed runs nested under one MLflow run per model",
    "report_study": "report rendered",
    "report_computations": "computations report rendered",
    "report_index": "index report rendered",
}
# The workflow's target rules (all, all_windows, ...) make nothing themselves.
TARGET_VERB = "every requested output is made"


def job_name(wildcards: Mapping[str, str]) -> str:
    """study/wL/arch/seedN, or as much of it as the job's wildcards give ("" for none)."""
    parts = [wildcards.get(key) for key in ("study", "length", "arch", "seed")]
    if parts[1] is not None:
        parts[1] = f"w{parts[1]}"
    if parts[3] is not None:
        parts[3] = f"seed{parts[3]}"
    return "/".join(part for part in parts if part is not None)


def _output(outputs: Sequence[str], name: str) -> dict[str, Any] | None:
    """The JSON output file called `name`, read; None if absent or unreadable."""
    for path in outputs:
        if Path(path).name == name:
            try:
                return json.loads(Path(path).read_text())
            except (OSError, ValueError):
                return None
    return None


def _trained(outputs: Sequence[str]) -> str:
    history = _output(outputs, "history.json")
    if not history:
        return ""
    loss = "final_val_loss" if "final_val_loss" in history else "final_loss"
    if loss not in history:
        return ""  # a baseline: nothing to train
    seconds = history.get("train_seconds")
    training = f", {seconds:.1f} s of training" if seconds is not None else ""
    return f"{loss.removeprefix('final_')} {history[loss]:.3g}{training}"


def _evaluated(outputs: Sequence[str]) -> str:
    modes = (_output(outputs, "eval.json") or {}).get("modes", {})
    # The stateful question's two modes, else the first (eval.json sorts its modes).
    chosen = [mode for mode in ("stateless", "stateful") if mode in modes] or list(modes)[:1]
    shown = [f"{mode} MSE {modes[mode]['mse']:.3g}" for mode in chosen if "mse" in modes[mode]]
    more = len(modes) - len(shown)
    return ", ".join(shown) + (f" and {more} more mode{'s' * (more > 1)}" if more > 0 else "")


def _verified(outputs: Sequence[str]) -> str:
    modes = (_output(outputs, "verify.json") or {}).get("modes", {})
    errors = [m["max_abs_error"] for m in modes.values() if "max_abs_error" in m]
    return f"max |numpy - Keras| {max(errors):.2g}" if errors else ""


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
    "train_model": _trained_and_evaluated,
    "verify_model": _verified,
}


def job_summary(
    rule: str, wildcards: Mapping[str, str], outputs: Sequence[str], logs: Sequence[str] = ()
) -> str:
    """What a finished job made, e.g. "sine/w2/rnn1 trained: val_loss 0.00017, 5.1 s of
    training"; the figure is left out when the job's outputs and logs do not hold it."""
    name = job_name(wildcards)
    verb = VERBS.get(rule, TARGET_VERB if rule.startswith("all") else f"{rule} done")
    said = f"{name} {verb}" if name else verb
    figure = FIGURES[rule]([*outputs, *logs]) if rule in FIGURES else ""
    return f"{said}: {figure}" if figure else said


def clock(seconds: float) -> str:
    """m:ss, or h:mm:ss from an hour on."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def time_left(
    pending: Mapping[str, int], walls: Mapping[str, Sequence[float]], elapsed: float
) -> str:
    """The time the `pending` jobs (count by rule) will take: each as long as its rule's
    finished jobs took on average (`walls`: their wall seconds by rule), as many at a time
    as the finished jobs ran (their summed wall over the `elapsed` seconds). While some
    pending rule has no finished job yet, the estimate leaves those out: "at least"."""
    if sum(pending.values()) == 0:
        return "done"
    finished = [seconds for rule in walls.values() for seconds in rule]
    if not finished or elapsed <= 0:
        return "estimating"
    known = {rule: count for rule, count in pending.items() if count and walls.get(rule)}
    work = sum(count * sum(walls[rule]) / len(walls[rule]) for rule, count in known.items())
    seconds = work / max(sum(finished) / elapsed, 1.0)
    shown = f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"
    unknown = any(count for rule, count in pending.items() if rule not in known)
    if unknown:
        return f"at least {shown} left" if seconds >= 1 else "estimating"
    return f"about {shown} left"


def progress_line(
    done: int, total: int, elapsed: float, left: str, summary: str, job_seconds: float | None
) -> str:
    """The line printed when the `done`-th of `total` jobs finished; `left` as time_left
    says it."""
    width = len(str(total))
    job = f" (job {job_seconds:.0f} s)" if job_seconds is not None else ""
    return f"[{done:>{width}}/{total} {clock(elapsed)} elapsed, {left}] {summary}{job}"
