"""Snakemake's scheduler keeps one re-evaluation timer pending, not one more per pass."""

from __future__ import annotations

import threading
import time

import pytest
import snakemake
from snakemake.scheduling.job_scheduler import JobScheduler

from forecastlab.scheduling import SchedulerPatchError, arm_one_timer_at_a_time, patch_scheduler
from tests.conftest import REPO


def test_snakemakes_scheduler_has_the_method_the_fix_replaces():
    assert arm_one_timer_at_a_time(type("Scheduler", (JobScheduler,), {}))
    assert not arm_one_timer_at_a_time(type("Other", (), {}))


def test_many_passes_arm_one_daemon_timer_that_wakes_the_loop_once():
    class Scheduler:
        def __init__(self) -> None:
            self._open_jobs = threading.Semaphore(0)

        def _schedule_reevalutation(self, delay: float) -> None:
            raise AssertionError("replaced")

    arm_one_timer_at_a_time(Scheduler)
    scheduler = Scheduler()
    before = threading.active_count()
    for _ in range(50):  # fifty passes of the loop within the timespan
        scheduler._schedule_reevalutation(0.2)
    assert threading.active_count() == before + 1
    assert scheduler._forecastlab_timer.daemon
    assert scheduler._open_jobs.acquire(timeout=5)
    assert not scheduler._open_jobs.acquire(timeout=0.5)  # woken once, not fifty times
    # The pass that the timer started arms the next one.
    scheduler._schedule_reevalutation(0.05)
    assert scheduler._open_jobs.acquire(timeout=5)
    time.sleep(0.1)
    assert scheduler._forecastlab_timer is None


def test_the_patch_applies_to_the_locked_snakemake_only_and_says_so_otherwise():
    lock = (REPO / "requirements.lock").read_text()
    assert f"snakemake=={snakemake.__version__}" in lock
    patch_scheduler(type("Scheduler", (JobScheduler,), {}), snakemake.__version__)
    with pytest.raises(SchedulerPatchError, match=r"not of 9\.99\.0: check whether"):
        patch_scheduler(type("Scheduler", (JobScheduler,), {}), "9.99.0")
    with pytest.raises(SchedulerPatchError, match="add the version to PATCHED_VERSIONS"):
        patch_scheduler(type("Other", (), {}), snakemake.__version__)
