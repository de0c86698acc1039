"""A fix for Snakemake's scheduler, whose own CPU time grows with the square of the job
count (Snakemake 9.27).

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
"""

from __future__ import annotations

import threading


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
