"""A fix for Snakemake's scheduler, whose own CPU time grows with the square of the job
count (Snakemake 9.27.1; the re-evaluation timer came with snakemake/snakemake#3067, its
100/1s default with #3043; no upstream issue reports the growth yet).

With its default `--max-jobs-per-timespan 100/1s`, every pass of the scheduler's loop
arms a new one-second timer that wakes the loop again, and each wake-up arms another: a
finished job starts one more such chain, and none ever stops. After n jobs the loop
runs about n times a second, each time looking at every ready job's inputs. Measured on
two studies of the default params (316 jobs): 35145 passes, Snakemake itself 122 CPU
seconds; on the whole default run about a third of a core, all along. The timers also
keep the process alive until they fire, as they are not daemon threads.

`arm_one_timer_at_a_time` makes the scheduler keep at most one such timer pending, as a
daemon thread: the rate limit is still re-checked a timespan after a pass (what the timer
is for), and a finished job still wakes the loop itself.

A profile setting does not do the same (bench/scheduler.py, 300 jobs of 0.2 s on 2 cores,
Snakemake's CPU with the jobs'): the fix 0.64 of the default's, `max-jobs-per-timespan`
1000/1s 0.92, and 100000/10s 0.70 but Snakemake then lingers 10 s after the last job for
its last timer (the timespan; no value turns the limiter off). So the fix stays, for the
Snakemake versions it was written against only (`patch_scheduler`).
"""

from __future__ import annotations

import threading

# The Snakemake releases whose JobScheduler this fix was read against and tested with.
PATCHED_VERSIONS = ("9.27.1",)


class SchedulerPatchError(RuntimeError):
    """The installed Snakemake is not one the scheduler fix was written for."""


def patch_scheduler(scheduler_class: type, version: str) -> None:
    """Apply `arm_one_timer_at_a_time` to Snakemake `version`'s scheduler class, or raise
    SchedulerPatchError: a private method of another release may mean something else."""
    if version in PATCHED_VERSIONS and arm_one_timer_at_a_time(scheduler_class):
        return
    patched = ", ".join(PATCHED_VERSIONS)
    raise SchedulerPatchError(
        f"forecastlab.scheduling patches the scheduler of Snakemake {patched}, not of "
        f"{version}: check whether its JobScheduler._schedule_reevalutation still arms a "
        "timer per pass (bench/scheduler.py measures it), then add the version to "
        "PATCHED_VERSIONS or drop the patch; requirements.lock pins the tested one"
    )


def arm_one_timer_at_a_time(scheduler_class: type) -> bool:
    """Replace `scheduler_class._schedule_reevalutation(delay)` (Snakemake's spelling) by
    one that arms a daemon timer only when none is pending. Returns whether the class has
    that method (a Snakemake without it is left as it is)."""
    if not hasattr(scheduler_class, "_schedule_reevalutation"):
        return False

    def schedule_reevaluation(self, delay: float) -> None:
        if getattr(self, "_forecastlab_timer", None) is not None:
            return

        def wake_the_loop() -> None:
            self._forecastlab_timer = None  # first, so that the pass it starts arms the next
            self._open_jobs.release()

        self._forecastlab_timer = threading.Timer(delay, wake_the_loop)
        self._forecastlab_timer.daemon = True
        self._forecastlab_timer.start()

    scheduler_class._schedule_reevalutation = schedule_reevaluation
    return True
