"""Submits the runs of recurring schedules that are due (exactly once per due time, whichever
worker does it: the store submits a run and moves the schedule's next due time in one
transaction, so the workers that come after find nothing due)."""
from __future__ import annotations

import logging
import time

from .chores import MIN_GAP_S, Chore, ChoreContext

log = logging.getLogger("kernel_worker")

LONGEST_WAIT_S = 30.0      # looked at again at least this often (a schedule added elsewhere
                           # pokes the workers through the queue's change anyway)


def run(context: ChoreContext, now: float) -> float:
    """Submit what is due; the seconds until the next due time (at most ``LONGEST_WAIT_S``).

    The chore thread pauses ``MIN_GAP_S`` after every wait, so this asks to be woken that much
    before the due time, and waits out the last moment itself: a run is submitted within a
    few milliseconds of its due time, not a gap later."""
    store = context.store
    due = store.next_schedule_due()
    if due is not None and 0 < due - time.time() <= 2 * MIN_GAP_S:
        context.stopping.wait(due - time.time())
    for fired in store.fire_due():
        log.info("schedule %s: %s", fired.name, fired.note)
    due = store.next_schedule_due()
    if due is None:
        return LONGEST_WAIT_S
    return max(0.0, min(LONGEST_WAIT_S, due - time.time() - MIN_GAP_S))


CHORE = Chore("schedules", run)
