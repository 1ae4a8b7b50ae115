"""Tracking a batch system's jobs cheaply: one query refreshes every tracked job.

The worker polls each running execution every ~50 ms; asking the batch system's controller
that often per job would load it for nothing. A background thread refreshes all tracked ids
with ONE query per interval (squeue, qstat), asks the system's memory of ended jobs (sacct,
the jobcomp file) about the ones the query no longer lists, and ``poll()`` only reads the last
answer. The system's parsers say, for each job, whether it waits, runs or ended."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jobmagics.errors import JobmagicsError

log = logging.getLogger("kernel_worker.batch")

REFRESH_S = 0.5          # one query per interval for all tracked jobs
LOST_AFTER_MISSES = 5    # refreshes in a row that find a job nowhere before it counts as lost
WAITING, RUNNING, ENDED = "waiting", "running", "ended"


@dataclass(frozen=True)
class BatchStatus:
    """What the batch system last said about one job (or one task of an array)."""

    state: str                      # the system's word: PENDING, RUNNING, FAILED; Q, R, C ...
    phase: str = WAITING            # WAITING (queued, held), RUNNING, or ENDED
    exit_code: int | None = None    # the job's exit status; -N when killed by signal N
    reason: str = ""                # why it waits, or how it ended
    node: str = ""
    source: str = "query"           # which answer this is (squeue, sacct, jobcomp, qstat, none)

    @property
    def terminal(self) -> bool:
        return self.phase == ENDED

    @property
    def waiting(self) -> bool:
        return self.phase == WAITING


Query = Callable[[Sequence[str]], dict[str, BatchStatus]]


def lost(reason: str) -> BatchStatus:
    """A job nobody knows any more (the query, the accounting and the logs all forgot it)."""
    return BatchStatus("LOST", ENDED, None, reason, "", "none")


class BatchTracker:
    """Statuses of the tracked jobs, refreshed by one background thread: ``query`` asks about
    all of them at once (raising a ``JobmagicsError`` when the system does not answer);
    ``forgotten`` about those it did not list (None for each it knows nothing of)."""

    def __init__(self, query: Query, forgotten: Query | None = None,
                 interval: float = REFRESH_S, lost_reason: str = "not listed any more") -> None:
        self.interval = interval
        self.trouble: str | None = None           # last error talking to the system, if any
        self._query = query
        self._forgotten = forgotten
        self._lost_reason = lost_reason
        self._statuses: dict[str, BatchStatus | None] = {}
        self._misses: dict[str, int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def watch(self, *backend_ids: str) -> None:
        with self._lock:
            for backend_id in backend_ids:
                self._statuses.setdefault(backend_id, None)
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="batch-tracker",
                                                daemon=True)
                self._thread.start()
        self._wake.set()

    def forget(self, backend_id: str) -> None:
        with self._lock:
            self._statuses.pop(backend_id, None)
            self._misses.pop(backend_id, None)

    def status(self, backend_id: str) -> BatchStatus | None:
        with self._lock:
            return self._statuses.get(backend_id)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopping:
            with self._lock:
                ids = [i for i, s in self._statuses.items() if s is None or not s.terminal]
            if ids:
                self.refresh(ids)
                # at most one query per interval, however many jobs a burst submits
                self._stopped_while(self.interval)
            else:
                self._wake.wait()              # nothing to track: sleep until watch()
                self._wake.clear()

    def _stopped_while(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and (left := deadline - time.monotonic()) > 0:
            self._wake.wait(left)
            self._wake.clear()

    def refresh(self, ids: Sequence[str]) -> None:
        """Ask the query about all ids, then the memory of ended jobs about the others."""
        try:
            found = self._query(ids)
        except JobmagicsError as exc:
            if self.trouble != str(exc):
                log.warning("%s", exc)
            self.trouble = str(exc)
            return
        self.trouble = None
        missing = [i for i in ids if i not in found]
        if missing and self._forgotten is not None:
            try:
                found.update(self._forgotten(missing))
            except JobmagicsError as exc:
                log.debug("asking about ended jobs failed: %s", exc)
        with self._lock:
            for backend_id in ids:
                status = found.get(backend_id)
                if status is None:
                    status = self._missed(backend_id)
                else:
                    self._misses.pop(backend_id, None)
                if backend_id in self._statuses and status is not None:
                    self._statuses[backend_id] = status

    def _missed(self, backend_id: str) -> BatchStatus | None:
        """Called with the lock held: a job found nowhere, a few times in a row, is lost."""
        misses = self._misses[backend_id] = self._misses.get(backend_id, 0) + 1
        return lost(self._lost_reason) if misses >= LOST_AFTER_MISSES else None
