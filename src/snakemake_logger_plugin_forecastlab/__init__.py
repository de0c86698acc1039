"""Snakemake logger plugin (`--logger forecastlab`, the workflow profile's default): one
line per finished job with the model's name and its key figure, the overall count, the
time elapsed and an estimate of the time left (see forecastlab.progress).

Everything else Snakemake says (the job counts, warnings, errors, a failed job's record
and log) is printed as Snakemake prints it, and a dry run is printed whole. Snakemake's
full job records always go to its log file, `.snakemake/log/<date>.snakemake.log`.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from logging import LogRecord
from pathlib import Path

from snakemake_interface_logger_plugins.base import LogHandlerBase
from snakemake_interface_logger_plugins.common import LogEvent

from forecastlab.progress import (
    PLAN,
    estimate_work,
    job_kind,
    job_summary,
    progress_line,
    time_left,
)

# Shown in a job's line or not at all: the full record is in the log file.
_JOB_RECORDS = {LogEvent.JOB_INFO, LogEvent.SHELLCMD, LogEvent.JOB_STARTED, LogEvent.JOB_FINISHED}
# The scheduler's lines at every round of jobs.
_SCHEDULER_CHATTER = re.compile(r"Select jobs to execute\.\.\.|Execute \d+ jobs\.\.\.")


class LogHandler(LogHandlerBase):
    def __post_init__(self) -> None:
        self.started = time.monotonic()
        self.started_at = time.time()
        self.jobs: dict[int, tuple[dict, float]] = {}  # jobid: (JOB_INFO record, start)
        self.finished: list[tuple[str, float | None]] = []  # (summary, seconds) to print
        self.pending: dict[str, int] = {}  # rule: jobs not finished yet (Snakemake's stats)
        # Wall seconds of the finished jobs, by kind and by rule (forecastlab.progress).
        self.walls: dict[str, list[float]] = {}
        self.busy = 0.0  # their sum
        self.plan: list[dict] | None = None  # every job of the run, from PLAN
        self.done_kinds: Counter[str] = Counter()  # finished jobs by kind

    def emit(self, record: LogRecord) -> None:
        try:
            line = self.line(record)
            if line is not None:
                stream = sys.stdout if self.common_settings.stdout else sys.stderr
                stream.write(line + "\n")
                stream.flush()
        except Exception:
            self.handleError(record)

    def line(self, record: LogRecord) -> str | None:
        """What to print for `record`, or None."""
        event = getattr(record, "event", None)
        if self.common_settings.dryrun:
            return self.format(record)
        if event == LogEvent.JOB_INFO:
            self.jobs[record.jobid] = (record.__dict__, time.monotonic())
            return None
        if event == LogEvent.RUN_INFO:
            stats = getattr(record, "stats", None) or {}
            self.pending = {rule: n for rule, n in stats.items() if rule != "total"}
        if event == LogEvent.JOB_FINISHED:
            info, start = self.jobs.pop(record.job_id, ({}, None))
            rule = info.get("rule_name", "job")
            summary = job_summary(
                rule, info.get("wildcards") or {}, info.get("output", []), info.get("log", [])
            )
            seconds = time.monotonic() - start if start is not None else None
            if rule in self.pending:
                self.pending[rule] -= 1
            kind = job_kind(rule, info.get("wildcards") or {})
            self.done_kinds[kind] += 1
            if seconds is not None:
                for key in {rule, kind}:
                    self.walls.setdefault(key, []).append(seconds)
                self.busy += seconds
            self.finished.append((summary, seconds))
            return None
        if event == LogEvent.PROGRESS:
            elapsed = time.monotonic() - self.started
            done, total = record.done, record.total
            left = self.time_left(elapsed) if done < total else "done"
            lines = [
                progress_line(done - len(self.finished) + 1 + i, total, elapsed, left, *finished)
                for i, finished in enumerate(self.finished)
            ]
            self.finished.clear()
            return "\n".join(lines) if lines else None
        if event in _JOB_RECORDS:
            return None
        if event == LogEvent.WORKFLOW_STARTED:  # Snakemake's 15-line banner, in one line
            configs = ", ".join(map(str, record.configfiles or [])) or "no config file"
            return f"Snakemake {record.snakemake_version} runs {record.snakefile_main} on {configs}"
        if event is None and _SCHEDULER_CHATTER.fullmatch(str(record.msg or "")):
            return None
        text = self.format(record)
        return text if text.strip() else None

    def time_left(self, elapsed: float) -> str:
        """The time left, job by job from the run's plan when onstart wrote it (PLAN), else
        rule by rule from Snakemake's job counts."""
        if self.plan is None and Path(PLAN).is_file():
            if Path(PLAN).stat().st_mtime >= self.started_at:  # this run's, not the last's
                try:
                    self.plan = json.loads(Path(PLAN).read_text())
                except (OSError, ValueError):
                    pass  # unreadable: estimated rule by rule, as without a plan
        if self.plan is None:
            pending = [(rule, None) for rule, n in self.pending.items() for _ in range(n)]
            return time_left(estimate_work(pending, self.walls, {}), self.busy, elapsed)
        last: dict[str, list[float]] = {}
        for job in self.plan:
            if job["last_wall"] is not None:
                last.setdefault(job["kind"], []).append(job["last_wall"])
        seen = Counter(self.done_kinds)
        pending = []
        for job in self.plan:
            if seen[job["kind"]]:
                seen[job["kind"]] -= 1  # finished
            else:
                pending.append((job["rule"], job["kind"]))
        return time_left(estimate_work(pending, self.walls, last), self.busy, elapsed)

    @property
    def writes_to_stream(self) -> bool:
        return True

    @property
    def writes_to_file(self) -> bool:
        return False

    @property
    def has_filter(self) -> bool:
        return False  # Snakemake's default filter: --quiet, --printshellcmds and the like

    @property
    def has_formatter(self) -> bool:
        return False  # Snakemake's default formatter, for what is printed as it is

    @property
    def needs_rulegraph(self) -> bool:
        return False
