"""How a worker carries on when the disk fills up or its database goes away under it."""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from jobmagics.errors import DatabaseDamaged, DatabaseReplaced, DiskFull, QueueError
from jobmagics.store.backup import save_orphan
from jobmagics.store.integrity import FileIdentity

from .executors import Outcome
from .space import DISK_FULL

if TYPE_CHECKING:
    from .worker import Running, Worker

log = logging.getLogger("kernel_worker")


class AdversityMixin:
    """A full disk pauses claiming and fails the jobs that could not write, never the worker;
    a deleted, replaced or damaged jobs.db makes the worker stop claiming and leave.

    Its methods are ``Worker``'s (``self: Worker``), which mypy reports as a self type that is
    not a supertype of the mixin: hence the ``type: ignore[misc]`` on each of them. The
    attributes they set are declared here with the types ``Worker.__init__`` gives them."""

    database_lost: str | None
    stopping: bool
    _stop_deadline: float | None
    _unrecorded: list[tuple[Running, Outcome]]

    def _watch_disk(self: Worker, now: float) -> None:  # type: ignore[misc]
        writing = self.space.writing([r.job.id for r in self.running.values()
                                      if r.job.backend == "local"])
        if self.space.full:
            self.space.room_again()
        if not self.space.is_full():
            self.space.hold_reserve()         # (a stat when there; another worker may have left)
            return
        for run in self.running.values():
            if run.job.id in writing and run.stop_reason is None:
                run.stop_detail = DISK_FULL
                self._stop(run, "disk", now)
        if not any(r.stop_reason == "disk" for r in self.running.values()):
            self.space.release_reserve()      # the writers are gone: room to record their ends

    def _disk_filled(self: Worker, message: str) -> None:  # type: ignore[misc]
        """A write to the queue failed for lack of space: pause, free the reserve, retry later."""
        if not self.space.full:
            log.warning("%s: no new jobs until there is room; what could not be recorded is"
                        " retried", message)
        self.space.full = True
        self.space.release_reserve()

    def _record_safely(self: Worker, run: Running, outcome: Outcome) -> None:  # type: ignore[misc]
        try:
            self._record(run, outcome)
        except DiskFull as exc:
            self._unrecorded.append((run, outcome))
            self._disk_filled(str(exc))
        except (DatabaseReplaced, DatabaseDamaged) as exc:
            log.error("could not record how %s ended: %s", run.job.id, exc)
            self._database_gone(exc)

    def _record_held_back(self: Worker) -> None:  # type: ignore[misc]
        """Outcomes a full disk kept from being written: try them again, in order."""
        waiting, self._unrecorded = self._unrecorded, []
        for index, (run, outcome) in enumerate(waiting):
            try:
                self._record(run, outcome)
            except DiskFull:
                self._unrecorded = waiting[index:]
                return
            except QueueError as exc:
                log.error("could not record how %s ended: %s", run.job.id, exc)

    def _database_gone(self: Worker, exc: QueueError) -> None:  # type: ignore[misc]
        """Stop claiming; running jobs get the shutdown grace and are given back to the file we
        have open (if only replaced, a copy of it is kept for ``init --recover``); then exit."""
        if self.database_lost is not None:
            return
        self.database_lost = str(exc)
        log.error("%s -- this worker stops claiming jobs, gives its %d running job(s) %.0f s,"
                  " and exits", exc, len(self.running), self.options.shutdown_grace)
        guard = self.store.db.guard
        replaced = isinstance(exc, DatabaseReplaced)
        if replaced and not guard.opened.same_file(FileIdentity.of(self.queue.layout.db)):
            guard.orphan_ok = True            # a file no one else reaches: finish up in it
            self._save_what_we_had()          # now, in case this worker is killed meanwhile
        self.stopping = True
        self._stop_deadline = time.monotonic() + self.options.shutdown_grace

    def _step_without_database(self: Worker) -> bool:  # type: ignore[misc]
        """The file is damaged or emptied: no more reads or writes, only stop the jobs and go
        (their attempts stay open in the file; the next worker after recovery ends them)."""
        now = time.monotonic()
        self._reap()
        self._enforce_deadlines(now)
        if self._should_exit(now):
            return False
        self._wait(now)
        return True

    def _save_what_we_had(self: Worker) -> None:  # type: ignore[misc]
        if not self.store.db.guard.orphan_ok:
            return                            # a damaged file: init --recover reads it in place
        try:
            path = save_orphan(self.store.db, self.id)
        except (QueueError, OSError) as exc:
            log.error("could not keep a copy of the database this worker had open: %s", exc)
            return
        log.error("kept a copy of the database this worker had open in %s (jobmagics init --recover"
                  " %s salvages it)", path, self.queue.path)
