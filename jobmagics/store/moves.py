"""A user's moves on jobs (cancel, retry, hold, release, delete), on one job or on several
at once: every id is checked (it exists, the actor may act on it, the move is legal) before
any is acted on, all in one ``BEGIN IMMEDIATE`` transaction, so a batch changes all or nothing.
What each move checks and does to the job is the life-cycle's (``store.lifecycle``)."""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence

from ..errors import InvalidJob, InvalidTransition, JobNotFound, PermissionDenied
from ..model import JobRecord, State
from . import lifecycle
from .arrays import ElementsForMove, array_elements_for
from .db import Database
from .schema import SchemaAware

Check = Callable[[sqlite3.Connection, JobRecord, set[str]], None]
Act = Callable[[sqlite3.Connection, JobRecord, str, float], "State | None"]

MOVES: dict[str, tuple[Check, Act]] = {
    "cancel": (lifecycle.check_cancel, lifecycle.cancel),
    "retry": (lifecycle.check_retry, lifecycle.retry),
    "hold": (lifecycle.check_hold, lifecycle.hold),
    "release": (lifecycle.check_release, lifecycle.release),
    "delete": (lifecycle.check_delete, lifecycle.delete),
}


def authorize(conn: sqlite3.Connection, jobs: Sequence[JobRecord], actor: str, verb: str) -> None:
    """``PermissionDenied`` naming the first of ``jobs`` that ``actor`` neither owns nor may act
    on as a queue admin (read in the caller's transaction): every user verb asks this."""
    strangers = [job for job in jobs if job.user != actor]
    if not strangers:
        return
    row = conn.execute("SELECT value FROM settings WHERE key = 'admins'").fetchone()
    if actor not in json.loads(row[0]):
        job = strangers[0]
        raise PermissionDenied(f"{actor} may not {verb} {job.id}: it belongs to {job.user}"
                               " (only its owner or a queue admin may)")


def _jobs_and_elements(conn: sqlite3.Connection, ids: Sequence[str],
                       check: Check) -> tuple[list[JobRecord], list[ElementsForMove]]:
    """The jobs named, an array's id standing for its elements that the move applies to (a
    retry of an array retries its failed, cancelled and timed-out elements); and the arrays
    named, for their owners and for arrays with no such element."""
    jobs: list[JobRecord] = []
    arrays: list[ElementsForMove] = []
    for job_id in ids:
        try:
            jobs.append(lifecycle.fetch_job(conn, job_id))
            continue
        except JobNotFound:
            elements = array_elements_for(conn, job_id,
                                          lambda job: _passes(conn, check, job, set(ids)))
            if elements is None:
                raise
        jobs.extend(elements.applicable)
        arrays.append(elements)
    return list({job.id: job for job in jobs}.values()), arrays


def _passes(conn: sqlite3.Connection, check: Check, job: JobRecord, batch: set[str]) -> bool:
    try:
        check(conn, job, batch | {job.array_id or ""})
    except InvalidTransition:
        return False
    return True


class MovesMixin(SchemaAware):
    """The user's moves; needs only ``self.db``."""

    db: Database

    def apply(self, action: str, job_ids: Sequence[str], actor: str, *,
              manager: bool = False) -> list[tuple[str, State | None]]:
        """Make one move on every job in ``job_ids``, or on none: the first id that does not
        exist, that ``actor`` may not touch, or whose state forbids the move is raised (naming
        it) before anything changes. Returns each id with its state after the move (None once
        deleted; ``running`` for a running job asked to stop)."""
        if action not in MOVES:
            raise InvalidJob(f"unknown action {action!r}; actions are {', '.join(MOVES)}")
        ids = list(dict.fromkeys(job_ids))     # a repeated id is one request
        if not ids:
            raise InvalidJob(f"{action} needs at least one job id")
        check, act = MOVES[action]
        now = time.time()
        with self.db.write() as conn:
            jobs, arrays = _jobs_and_elements(conn, ids, check)
            batch = set(ids) | {job.id for job in jobs}
            if not manager:          # the queue's owner (root for a system queue) may act
                authorize(conn, jobs + [a.every[0] for a in arrays if a.every], actor, action)
            for array in arrays:
                if not array.applicable:
                    raise array.refusal(action)
            for job in jobs:
                check(conn, job, batch)
            outcomes = []
            for index, job in enumerate(jobs):
                # as it is now: an earlier move of the batch may have changed it
                current = lifecycle.fetch_job(conn, job.id) if index else job
                outcomes.append((job.id, act(conn, current, actor, now)))
            return outcomes

    def _apply_one(self, action: str, job_id: str, actor: str) -> State:
        state = self.apply(action, [job_id], actor)[0][1]
        assert state is not None
        return state

    def cancel(self, job_id: str, actor: str) -> State:
        return self._apply_one("cancel", job_id, actor)

    def retry(self, job_id: str, actor: str) -> State:
        return self._apply_one("retry", job_id, actor)

    def hold(self, job_id: str, actor: str) -> None:
        self.apply("hold", [job_id], actor)

    def release(self, job_id: str, actor: str) -> State:
        return self._apply_one("release", job_id, actor)

    def delete(self, job_id: str, actor: str) -> None:
        self.apply("delete", [job_id], actor)
