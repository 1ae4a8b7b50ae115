"""A user's moves on jobs (cancel, retry, hold, release, delete), on one job or on several
at once: every id is checked (it exists, the actor may act on it, the move is legal) before
any is acted on, all in one ``BEGIN IMMEDIATE`` transaction, so a batch changes all or nothing."""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence

from ..errors import InvalidJob, InvalidTransition, JobNotFound, PermissionDenied
from ..model import ACTIVE, TERMINAL, JobRecord, State
from .db import Database
from .rows import JOB_COLUMNS, job_from_row
from .schema import SchemaAware

Check = Callable[[sqlite3.Connection, JobRecord, set[str]], None]
Act = Callable[[sqlite3.Connection, JobRecord, str, float], "State | None"]
_RETRYABLE = (State.FAILED, State.CANCELLED, State.TIMEOUT)


def record_event(conn: sqlite3.Connection, job_id: str, now: float, state: str, detail: str | None) -> None:
    conn.execute("INSERT INTO events(job_id, at, state, detail) VALUES (?, ?, ?, ?)",
                 (job_id, now, state, detail))


def fetch_job(conn: sqlite3.Connection, job_id: str) -> JobRecord:
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    return job_from_row(row)


def end_job(conn: sqlite3.Connection, job_id: str, state: State, now: float, error: str | None,
            exit_code: int | None = None) -> None:
    """Move a job to a terminal state, record it, and settle the jobs that wait on it."""
    conn.execute("UPDATE jobs SET state = ?, finished_at = ?, exit_code = ?, error = ?,"
                 " progress = CASE WHEN ? = 'completed' THEN 1.0 ELSE progress END WHERE id = ?",
                 (state.value, now, exit_code, error, state.value, job_id))
    detail = error or (f"exit {exit_code}" if exit_code is not None else None)
    record_event(conn, job_id, now, state.value, detail)
    settle_dependants(conn, job_id, state, now)


def settle_dependants(conn: sqlite3.Connection, parent: str, parent_state: State, now: float) -> None:
    """A parent reached a terminal state: start the children it was holding back, or cancel
    (recursively) those that can now never start."""
    children = [r[0] for r in conn.execute(
        "SELECT d.child FROM deps d JOIN jobs j ON j.id = d.child"
        " WHERE d.parent = ? AND j.state = 'waiting'", (parent,))]
    for child in children:
        if parent_state is State.COMPLETED:
            blocked = conn.execute(
                "SELECT 1 FROM deps d JOIN jobs j ON j.id = d.parent"
                " WHERE d.child = ? AND j.state != 'completed' LIMIT 1", (child,)).fetchone()
            held = conn.execute("SELECT held FROM jobs WHERE id = ?", (child,)).fetchone()[0]
            if not blocked and not held:
                conn.execute("UPDATE jobs SET state = 'pending' WHERE id = ?", (child,))
                record_event(conn, child, now, "pending", f"dependency {parent} completed")
        else:
            end_job(conn, child, State.CANCELLED, now, f"dependency {parent} {parent_state.value}")


# ---- checks: raise naming the job if the move is not legal from its state -------------
def _check_cancel(conn: sqlite3.Connection, job: JobRecord, batch: set[str]) -> None:
    if job.state in TERMINAL:
        raise InvalidTransition(f"{job.id} is already {job.state.value}; nothing to cancel")


def _check_hold(conn: sqlite3.Connection, job: JobRecord, batch: set[str]) -> None:
    if job.state not in (State.PENDING, State.WAITING) or job.held:
        raise InvalidTransition(f"{job.id} is {'held' if job.held else job.state.value};"
                                " only a pending or waiting job can be held")


def _check_release(conn: sqlite3.Connection, job: JobRecord, batch: set[str]) -> None:
    if not job.held:
        raise InvalidTransition(f"{job.id} is not held")


def _check_retry(conn: sqlite3.Connection, job: JobRecord, batch: set[str]) -> None:
    if job.state not in _RETRYABLE:
        raise InvalidTransition(f"{job.id} is {job.state.value}; only failed, cancelled or"
                                " timed-out jobs can be retried")
    for parent, state in conn.execute(
            "SELECT j.id, j.state FROM deps d JOIN jobs j ON j.id = d.parent WHERE d.child = ?"
            " AND j.state IN ('failed', 'cancelled', 'timeout')", (job.id,)):
        if parent not in batch:            # retried in the same batch: it will run again first
            raise InvalidTransition(f"{job.id} runs after {parent}, which is {state}: retry that one first")


def _check_delete(conn: sqlite3.Connection, job: JobRecord, batch: set[str]) -> None:
    if job.state in ACTIVE:
        raise InvalidTransition(f"{job.id} is {job.state.value}; cancel it before deleting it")


# ---- acts: the job as it is now (an earlier move of the batch may have changed it) -----
def _cancel(conn: sqlite3.Connection, job: JobRecord, actor: str, now: float) -> State:
    if job.state in TERMINAL:             # cancelled already by a parent cancelled in this batch
        return job.state
    if job.state is State.RUNNING:
        conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job.id,))
        record_event(conn, job.id, now, "running", f"cancel requested by {actor}")
        return State.RUNNING
    end_job(conn, job.id, State.CANCELLED, now, f"cancelled by {actor}")
    return State.CANCELLED


def _hold(conn: sqlite3.Connection, job: JobRecord, actor: str, now: float) -> State:
    conn.execute("UPDATE jobs SET held = 1, state = 'waiting' WHERE id = ?", (job.id,))
    record_event(conn, job.id, now, "waiting", f"held by {actor}")
    return State.WAITING


def _release(conn: sqlite3.Connection, job: JobRecord, actor: str, now: float) -> State:
    state = unblocked_state(conn, job.id)
    conn.execute("UPDATE jobs SET held = 0, state = ? WHERE id = ?", (state.value, job.id))
    record_event(conn, job.id, now, state.value, f"released by {actor}")
    return state


def _retry(conn: sqlite3.Connection, job: JobRecord, actor: str, now: float) -> State:
    """Run a failed, cancelled or timed-out job again under the same id."""
    state = unblocked_state(conn, job.id)
    conn.execute(
        "UPDATE jobs SET state = ?, held = 0, attempt = attempt + 1, not_before = 0,"
        " started_at = NULL, finished_at = NULL, exit_code = NULL, error = NULL, worker = NULL,"
        " pid = NULL, progress = NULL, stage = NULL, cancel_requested = 0, backend_id = NULL"
        " WHERE id = ?", (state.value, job.id))
    conn.execute("DELETE FROM results WHERE job_id = ?", (job.id,))
    record_event(conn, job.id, now, state.value, f"retried by {actor}")
    return state


def _delete(conn: sqlite3.Connection, job: JobRecord, actor: str, now: float) -> None:
    for table, column in (("jobs", "id"), ("events", "job_id"), ("payloads", "job_id"),
                          ("results", "job_id"), ("deps", "child")):
        conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (job.id,))


MOVES: dict[str, tuple[Check, Act]] = {
    "cancel": (_check_cancel, _cancel), "retry": (_check_retry, _retry), "hold": (_check_hold, _hold),
    "release": (_check_release, _release), "delete": (_check_delete, _delete)}


def unblocked_state(conn: sqlite3.Connection, job_id: str) -> State:
    blocked = conn.execute("SELECT 1 FROM deps d JOIN jobs j ON j.id = d.parent"
                           " WHERE d.child = ? AND j.state != 'completed' LIMIT 1", (job_id,)).fetchone()
    return State.WAITING if blocked else State.PENDING


def _authorize(conn: sqlite3.Connection, jobs: Sequence[JobRecord], actor: str, verb: str) -> None:
    strangers = [job for job in jobs if job.user != actor]
    if not strangers:
        return
    admins = json.loads(conn.execute("SELECT value FROM settings WHERE key = 'admins'").fetchone()[0])
    if actor not in admins:
        job = strangers[0]
        raise PermissionDenied(f"{actor} may not {verb} {job.id}: it belongs to {job.user}"
                               " (only its owner or a queue admin may)")


class MovesMixin(SchemaAware):
    db: Database

    def apply(self, action: str, job_ids: Sequence[str], actor: str) -> list[tuple[str, State | None]]:
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
            jobs = [fetch_job(conn, job_id) for job_id in ids]
            _authorize(conn, jobs, actor, action)
            for job in jobs:
                check(conn, job, set(ids))
            outcomes = []
            for index, job in enumerate(jobs):
                current = fetch_job(conn, job.id) if index else job
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
