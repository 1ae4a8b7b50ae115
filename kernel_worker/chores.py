"""What a worker does beside running jobs: submitting the runs of recurring schedules when
they are due, sending notifications from the outbox, applying the queue's retention.

The chores run in one background thread, so a slow SMTP server or a long prune never delays
a claim or a cancel. Each chore says how long until it wants to run again; the worker pokes
the thread when the queue changed (a new schedule, an ended job), so a chore that waits on
the queue reacts at once. Every chore is safe with several workers doing it at the same time:
each acts in the store's transactions (a due run is submitted once, a notification taken by
one sender)."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from jobmagics.client import Queue
from jobmagics.errors import DatabaseDamaged, DatabaseReplaced
from jobmagics.store import Store

log = logging.getLogger("kernel_worker")

IDLE_S = 60.0             # the longest a chore sleeps unless it asks for less or is poked
MIN_GAP_S = 0.02          # pokes closer together than this are one (a busy queue)


@dataclass
class ChoreContext:
    """What a chore works with: the worker's queue and store, its id, and whether it stops."""

    queue: Queue
    store: Store
    worker_id: str
    stopping: threading.Event


@dataclass
class Chore:
    """``run(context, now)`` does what is due and returns the seconds until it wants to run
    again (it is also run when the queue changed)."""

    name: str
    run: Callable[[ChoreContext, float], float]
    next_at: float = field(default=0.0)


class Chores:
    """The worker's chore thread."""

    def __init__(self, context: ChoreContext, chores: list[Chore]) -> None:
        self.context = context
        self.chores = chores
        self._poked = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="jobmagics-chores", daemon=True)

    def start(self) -> None:
        if self.chores:
            self._thread.start()

    def poke(self) -> None:
        """The queue changed: run the chores now (they look at what is due)."""
        self._poked.set()

    def stop(self, timeout: float = 5.0) -> None:
        self.context.stopping.set()
        self._poked.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        stopping = self.context.stopping
        while not stopping.is_set():
            poked = self._poked.is_set()
            self._poked.clear()
            now = time.time()
            for chore in self.chores:
                if poked or now >= chore.next_at:
                    chore.next_at = now + self._run(chore, now)
                if stopping.is_set():
                    return
            wait = min(chore.next_at for chore in self.chores) - time.time()
            self._poked.wait(max(0.0, min(wait, IDLE_S)))
            stopping.wait(MIN_GAP_S)

    def _run(self, chore: Chore, now: float) -> float:
        try:
            return max(0.0, chore.run(self.context, now))
        except (DatabaseReplaced, DatabaseDamaged):
            return IDLE_S                  # the worker's own loop says so and stops
        except Exception:                  # a chore's bug must not end the worker's jobs
            log.exception("the %s chore failed; trying again in %.0f s", chore.name, IDLE_S)
            return IDLE_S


def default_chores() -> list[Chore]:
    """Every chore a worker does (each module declares its own)."""
    from .notifier import CHORE as notifications
    from .pruner import CHORE as retention
    from .scheduler import CHORE as schedules
    return [Chore(schedules.name, schedules.run), Chore(notifications.name, notifications.run),
            Chore(retention.name, retention.run)]
