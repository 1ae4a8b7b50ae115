"""Applies the queue's retention once a day: with ``retention.days`` set, one worker of all a
day prunes everyone's finished jobs older than that (``retention.keep_data``: their data files
stay). Whose turn it is, is decided in one transaction on ``retention.last_run`` (the store's
``take_retention_turn``), so several workers never prune twice the same day; the outcome is
kept in ``retention.last_result`` and the worker's log."""
from __future__ import annotations

import logging
import time

from jobmagics.queue_settings import BY_NAME
from jobmagics.retention_model import FINISHED
from jobmagics.store.retention import LAST_RESULT_KEY

from .chores import Chore, ChoreContext

log = logging.getLogger("kernel_worker")

DAY_S = 86400.0
LONGEST_WAIT_S = 300.0     # looked at again at least this often (a setting changed elsewhere
                           # pokes the workers through the queue's change anyway)


def run(context: ChoreContext, now: float) -> float:
    """Prune if the day's turn is due and ours; the seconds until it is worth looking again."""
    store = context.store
    days = _days(store.setting("retention.days", BY_NAME["retention.days"].default))
    if days is None:
        return LONGEST_WAIT_S
    last = store.last_retention_turn()
    if last is not None and 0 <= now - last < DAY_S:
        return min(LONGEST_WAIT_S, last + DAY_S - now)
    if not store.take_retention_turn(now, DAY_S):
        return LONGEST_WAIT_S                      # another worker took today's turn
    keep_data = bool(store.setting("retention.keep_data", BY_NAME["retention.keep_data"].default))
    report = store.prune(cut=now - days * DAY_S, states=list(FINISHED), user=None,
                         keep_data=keep_data)
    store.set_setting(LAST_RESULT_KEY, {"at": time.time(), "worker": context.worker_id,
                                        "days": days, **report.to_dict()})
    log.info("retention (%g days): pruned %d jobs and %d files (%.1f MB) in %.1f s; %s",
             days, report.jobs, report.files, report.bytes / 1e6, report.seconds,
             report.vacuum or "nothing to give back")
    return LONGEST_WAIT_S


def _days(value: object) -> float | None:
    """The setting as stored (a number of days, or None: off); anything else is off."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        days = float(value)
    except ValueError:
        return None
    return days if days > 0 else None


CHORE = Chore("retention", run)
