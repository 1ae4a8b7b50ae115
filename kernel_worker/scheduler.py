"""Submits the runs of recurring schedules that are due (exactly once per due time, whichever
worker does it: the store submits a run and moves the schedule's next due time in one
transaction, so the workers that come after find nothing due)."""
from __future__ import annotations

import logging
import time

from .chores import Chore, ChoreContext

log = logging.getLogger("kernel_worker")

LONGEST_WAIT_S = 30.0      # looked at again at least this often (a schedule added elsewhere
                           # pokes the workers through the queue's change anyway)


def run(context: ChoreContext, now: float) -> float:
    """Submit what is due; the seconds until the next due time (at most ``LONGEST_WAIT_S``)."""
    for fired in context.store.fire_due():
        log.info("schedule %s: %s", fired.name, fired.note)
    due = context.store.next_schedule_due()
    if due is None:
        return LONGEST_WAIT_S
    return max(0.0, min(LONGEST_WAIT_S, due - time.time()))   # (now: before the submission)


CHORE = Chore("schedules", run)
