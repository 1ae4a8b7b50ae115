"""A job's life-cycle: the only code that writes a job's ``state`` (and the event that records
each step). Every step checks ``model.TRANSITIONS`` first, so an illegal one raises
``InvalidTransition`` before anything is written. The store's operations (submit, claim,
finish, requeue, recovery and the user's moves) decide which step to take and call these;
each function works inside the caller's ``BEGIN IMMEDIATE`` transaction (``conn``).

A new attempt (a claim, a requeue, a retry) starts from ``fields.per_attempt(JobRecord)``:
every column declared ``per_attempt`` back at its default, then what the step itself sets.
"""
from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from typing import Any

from ..arrays import aggregate_state
from ..errors import InvalidTransition, JobNotFound
from ..fields import per_attempt, stored_columns
from ..model import ACTIVE, RETRYABLE, TERMINAL, JobRecord, JobSpec, State, check_transition
from . import rules
from .rows import JOB_COLUMNS, SUBMITTED_COLUMNS, job_from_row, submitted_values

# Column -> the value a new attempt starts with (started_at, worker, pid, progress, ...).
PER_ATTEMPT: dict[str, Any] = per_attempt(JobRecord)
# What a step may set beside the state: the per-attempt columns, the attempt and the hold.
_STEP_COLUMNS = frozenset(PER_ATTEMPT) | {"attempt", "held"}
_ENTRY = (State.WAITING, State.PENDING)
_RETRYABLE = RETRYABLE
CANCELLED_WHILE_RUNNING = "cancelled while running"
# ``notify_on="failure"``: the ends that are failures (a cancel is someone's decision).
NOTIFIED_FAILURES = (State.FAILED, State.TIMEOUT)

# The one "is a parent still blocking this job?": one of its parents, or one element of an
# array it runs after, has not completed.
_BLOCKED_SQL = ("SELECT 1 FROM deps d JOIN jobs j ON j.id = d.parent"
                " WHERE d.child = :child AND j.state != :done"
                " UNION ALL SELECT 1 FROM deps d JOIN jobs j ON j.array_id = d.parent"
                " WHERE d.child = :child AND j.state != :done LIMIT 1")
_ENDED_PARENTS_SQL = ("SELECT j.id, j.state FROM deps d JOIN jobs j ON j.id = d.parent"
                      " WHERE d.child = :child AND j.state IN (:a, :b, :c)"
                      " UNION ALL SELECT d.parent, j.state FROM deps d"
                      " JOIN jobs j ON j.array_id = d.parent"
                      " WHERE d.child = :child AND j.state IN (:a, :b, :c)")
# An array's throttle: how many more of its elements may be pending or running (no row: it
# has none, or an array on SLURM, which throttles its elements itself).
_SLOTTED = (State.PENDING, State.RUNNING)
_ARRAY_ROOM_SQL = ("SELECT a.parallel - (SELECT count(*) FROM jobs"
                   " WHERE array_id = a.id AND state IN (?, ?)) FROM arrays a"
                   " WHERE a.id = ? AND a.parallel IS NOT NULL AND a.backend = 'local'")
_NEXT_ELEMENTS_SQL = (f"SELECT {JOB_COLUMNS} FROM jobs WHERE array_id = ? AND state = ?"
                      " AND held = 0 AND array_index > ? ORDER BY array_index LIMIT ?")
THROTTLED = "waiting for a free slot of its array"
_ARRAY_COUNTS_SQL = ("SELECT state, count(*) FROM jobs INDEXED BY jobs_array WHERE array_id = ?"
                     " GROUP BY state")
# A parent's waiting children, from the parent's dependencies (not from every waiting job).
_WAITING_CHILDREN_SQL = (
    f"SELECT {', '.join('j.' + c for c in stored_columns(JobRecord))}"
    " FROM deps d CROSS JOIN jobs j ON j.id = d.child"
    " WHERE d.parent = ? AND j.state = ? ORDER BY d.child")


# ---- reading and recording ------------------------------------------------------------
def fetch_job(conn: sqlite3.Connection, job_id: str) -> JobRecord:
    """The job as it is in this transaction."""
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFound(job_id)
    return job_from_row(row)


def record_event(conn: sqlite3.Connection, job_id: str, now: float, state: State,
                 detail: str | None) -> None:
    conn.execute("INSERT INTO events(job_id, at, state, detail) VALUES (?, ?, ?, ?)",
                 (job_id, now, state.value, detail))


def blocked(conn: sqlite3.Connection, job_id: str) -> bool:
    """Is one of the job's parents not completed (so the job cannot start yet)?"""
    found = conn.execute(_BLOCKED_SQL, {"child": job_id, "done": State.COMPLETED.value})
    return found.fetchone() is not None


def array_room(conn: sqlite3.Connection, array_id: str) -> int | None:
    """How many more elements of the array may be pending or running (None: no limit)."""
    row = conn.execute(_ARRAY_ROOM_SQL, (*(s.value for s in _SLOTTED), array_id)).fetchone()
    return None if row is None else int(row[0])


def throttled(conn: sqlite3.Connection, job: JobRecord) -> bool:
    """Is the job an element of an array that runs as many elements as it may already?"""
    if job.array_id is None:
        return False
    room = array_room(conn, job.array_id)
    return room is not None and room <= 0


def unblocked_state(conn: sqlite3.Connection, job: JobRecord) -> State:
    """Where a job that nothing holds goes: waiting while a parent blocks it or its array has
    no free slot, else pending."""
    waits = blocked(conn, job.id) or throttled(conn, job)
    return State.WAITING if waits else State.PENDING


def admit(conn: sqlite3.Connection, array_id: str, now: float) -> None:
    """An element left the array's slots (it ended, or was held): let the next waiting
    elements (by index) that nothing else holds back take the free slots."""
    room = array_room(conn, array_id)
    last = -1
    while room:                       # None (no throttle) or 0: nothing waits for a slot
        rows = conn.execute(_NEXT_ELEMENTS_SQL, (array_id, State.WAITING.value, last,
                                                 room + 16)).fetchall()
        if not rows:
            return
        for job in map(job_from_row, rows):
            last = job.array_index if job.array_index is not None else last
            if room and not blocked(conn, job.id):
                move(conn, job, State.PENDING, now, "a slot of its array is free")
                room -= 1


# ---- the one step ---------------------------------------------------------------------
def move(conn: sqlite3.Connection, job: JobRecord, new: State, now: float, detail: str | None,
         **columns: Any) -> JobRecord:
    """Take ``job`` (as read in this transaction) from its state to ``new``, setting
    ``columns`` with it, and record the step. Returns the job as it now is."""
    check_transition(job.id, job.state, new)
    unknown = set(columns) - _STEP_COLUMNS
    if unknown:
        raise ValueError(f"a life-cycle step does not set {', '.join(sorted(unknown))}")
    names = ["state", *columns]
    values = [new.value, *(int(v) if isinstance(v, bool) else v for v in columns.values())]
    assignments = ", ".join(f"{name} = ?" for name in names)
    cursor = conn.execute(f"UPDATE jobs SET {assignments} WHERE id = ? AND state = ?",
                          (*values, job.id, job.state.value))
    if cursor.rowcount != 1:        # the record was read before an earlier step changed it
        raise InvalidTransition(f"{job.id} is no longer {job.state.value}")
    record_event(conn, job.id, now, new, detail)
    if job.array_id is not None and job.state in _SLOTTED and new not in _SLOTTED:
        admit(conn, job.array_id, now)
    if job.notify and new in TERMINAL:
        post_notifications(conn, job, new, now)
    return dataclasses.replace(job, state=new, **columns)


def post_notifications(conn: sqlite3.Connection, job: JobRecord, state: State,
                       now: float) -> None:
    """The job's notifications of this end, in the outbox, in the transaction that ends it:
    once per target and attempt, however often a worker retries the step (a worker sends
    them, ``store.outbox``). An element of an array tells of the array's end instead (once
    its last element ended, as the array's aggregated state), not of its own: a map over
    10,000 items is one email, not 10,000."""
    if job.array_id is not None:
        counts = dict(conn.execute(_ARRAY_COUNTS_SQL, (job.array_id,)).fetchall())
        if any(counts.get(s.value) for s in ACTIVE):
            return
        state = aggregate_state(counts)
    if job.notify_on == "failure" and state not in NOTIFIED_FAILURES:
        return
    conn.executemany("INSERT OR IGNORE INTO outbox(job_id, attempt, state, target, created_at,"
                     " next_try_at) VALUES (?, ?, ?, ?, ?, ?)",
                     [(job.id, job.attempt, state.value, target, now, now)
                      for target in job.notify])


def new_attempt(**columns: Any) -> dict[str, Any]:
    """The columns of a step that starts an attempt afresh: every per-attempt column at its
    default, then ``columns``."""
    return {**PER_ATTEMPT, **columns}


# ---- entering and leaving the queue ---------------------------------------------------
_ENTER_COLUMNS = ("id", "user", "host", "state", "submitted_at", "array_id", "array_index",
                  *SUBMITTED_COLUMNS)
_ENTER_SQL = (f"INSERT INTO jobs({', '.join(_ENTER_COLUMNS)})"
              f" VALUES ({', '.join('?' * len(_ENTER_COLUMNS))})")


@dataclasses.dataclass
class Entry:
    """One submitted job as it enters the queue: waiting or pending, with the event's detail;
    ``element``: the array it is an element of, and its index."""

    job_id: str
    spec: JobSpec
    state: State
    detail: str
    element: tuple[str, int] | None = None


def enter(conn: sqlite3.Connection, entries: Sequence[Entry], user: str, host: str,
          now: float) -> None:
    """Insert submitted jobs, each waiting or pending, and record their submission (in two
    statements: a 10,000-element array is one insert of rows and one of events)."""
    rows, events = [], []
    like: tuple[JobSpec, list[Any]] | None = None
    for entry in entries:
        if entry.state not in _ENTRY:
            raise InvalidTransition(f"{entry.job_id} cannot be submitted {entry.state.value}")
        array_id, index = entry.element if entry.element is not None else (None, None)
        values = submitted_values(entry.spec, like)
        like = (entry.spec, values)
        rows.append((entry.job_id, user, host, entry.state.value, now, array_id, index, *values))
        events.append((entry.job_id, now, entry.state.value, entry.detail))
    conn.executemany(_ENTER_SQL, rows)
    conn.executemany("INSERT INTO events(job_id, at, state, detail) VALUES (?, ?, ?, ?)", events)


# ---- ending, and what it means for the jobs that wait -----------------------------------
def end(conn: sqlite3.Connection, job: JobRecord, state: State, now: float, error: str | None,
        exit_code: int | None = None) -> JobRecord:
    """Move a job to a terminal state, record it, and settle the jobs that wait on it."""
    if state not in TERMINAL:
        raise ValueError(f"{state.value} is not a terminal state")
    columns: dict[str, Any] = {"finished_at": now, "exit_code": exit_code, "error": error}
    if state is State.COMPLETED:
        columns["progress"] = 1.0
    detail = error or (f"exit {exit_code}" if exit_code is not None else None)
    ended = move(conn, job, state, now, detail, **columns)
    settle_dependants(conn, job.id, state, now)
    if job.array_id is not None:      # the jobs that run after the whole array
        settle_dependants(conn, job.array_id, state, now, f" (element {job.id})")
    return ended


def settle_dependants(conn: sqlite3.Connection, parent: str, parent_state: State,
                      now: float, because: str = "") -> None:
    """A parent (a job, or an element of an array that children run after) reached a
    terminal state: start the children it was holding back, or cancel (recursively) those
    that can now never start."""
    if conn.execute("SELECT 1 FROM deps WHERE parent = ? LIMIT 1", (parent,)).fetchone() is None:
        return      # nothing waits on it (most jobs): the wide query below costs ~0.25 ms
    rows = conn.execute(_WAITING_CHILDREN_SQL, (parent, State.WAITING.value)).fetchall()
    for child in map(job_from_row, rows):
        if parent_state is not State.COMPLETED:
            current = fetch_job(conn, child.id)     # a sibling's cancel may have reached it
            if current.state is State.WAITING:
                end(conn, current, State.CANCELLED, now,
                    f"dependency {parent} {parent_state.value}{because}")
        elif not child.held and not blocked(conn, child.id) and not throttled(conn, child):
            move(conn, child, State.PENDING, now, f"dependency {parent} completed")


# ---- a worker's steps -----------------------------------------------------------------
def start(conn: sqlite3.Connection, job: JobRecord, worker_id: str, now: float) -> JobRecord:
    """A worker claimed a pending job: a new attempt runs on it."""
    return move(conn, job, State.RUNNING, now, f"attempt {job.attempt} on {worker_id}",
                **new_attempt(worker=worker_id, started_at=now))


def requeue(conn: sqlite3.Connection, job: JobRecord, now: float, detail: str, *,
            not_before: float = 0.0, consume_attempt: bool) -> JobRecord:
    """Give a running job back to the queue, to be claimed again from ``not_before``. A job
    that a batch system held for parents still running there (a chain's link, claimed before
    its parents completed: ``store.batch``) waits for them again."""
    queued = move(conn, job, State.PENDING, now, detail, **new_attempt(
        not_before=not_before, attempt=job.attempt + int(consume_attempt)))
    if blocked(conn, job.id):
        return move(conn, queued, State.WAITING, now, "its parents have not completed")
    return queued


def end_attempt(conn: sqlite3.Connection, job: JobRecord, outcome: State, now: float,
                exit_code: int | None, error: str | None) -> State:
    """A running attempt ended with ``outcome``: a job asked to stop is cancelled, a failure
    or timeout with attempts left is retried after a backoff, anything else ends the job.
    Returns the job's state now."""
    if job.cancel_requested:
        outcome, error = State.CANCELLED, error or CANCELLED_WHILE_RUNNING
    elif outcome is State.FAILED and job.error:
        error = job.error        # what the job itself said went wrong (save_result)
    if outcome in (State.FAILED, State.TIMEOUT) and job.attempt <= job.retries:
        delay = job.retry_delay * 2 ** (job.attempt - 1)
        requeue(conn, job, now, f"attempt {job.attempt} {outcome.value}"
                                f" ({error or f'exit {exit_code}'}); retry in {delay:.1f} s",
                not_before=now + delay, consume_attempt=True)
        return State.PENDING
    end(conn, job, outcome, now, error, exit_code)
    return outcome


def give_back(conn: sqlite3.Connection, job: JobRecord, now: float, reason: str) -> State:
    """The worker stops before the attempt ended: the job goes back to the queue without
    using up an attempt (or ends cancelled, if that was asked)."""
    if job.cancel_requested:
        return end(conn, job, State.CANCELLED, now, CANCELLED_WHILE_RUNNING).state
    return requeue(conn, job, now, reason, consume_attempt=False).state


def lose(conn: sqlite3.Connection, job: JobRecord, now: float, reason: str) -> State:
    """The job's worker is gone: the attempt counts; the job is requeued while it has
    retries left, else it fails with ``reason`` (or ends cancelled, if that was asked)."""
    if job.cancel_requested:
        return end(conn, job, State.CANCELLED, now, CANCELLED_WHILE_RUNNING).state
    if job.attempt > job.retries:
        return end(conn, job, State.FAILED, now, reason).state
    return requeue(conn, job, now, reason, consume_attempt=True).state


# ---- a user's steps: checks (raising, naming the job, if the step is not legal now) ------
# ``store.moves`` checks every job of a batch before it takes any step, so a batch changes all
# or nothing; each step repeats the part of its check that looks at the job alone.
# The part that looks at the job alone is ``rules``' (the doors show it as a row's ``may``).
def refuse(refusal: str | None) -> None:
    """Raise ``InvalidTransition`` with a rule's refusal, if it has one."""
    if refusal is not None:
        raise InvalidTransition(refusal)


def check_cancel(conn: sqlite3.Connection, job: JobRecord, batch: set[str]) -> None:
    refuse(rules.cancel_refusal(job))


def check_hold(conn: sqlite3.Connection, job: JobRecord, batch: set[str]) -> None:
    refuse(rules.hold_refusal(job))


def check_release(conn: sqlite3.Connection, job: JobRecord, batch: set[str]) -> None:
    refuse(rules.release_refusal(job))


def check_retry(conn: sqlite3.Connection, job: JobRecord, batch: set[str]) -> None:
    """Only an ended job that did not complete; and not while a parent of it is such a job
    itself, unless that parent is retried in the same ``batch`` (it will run again first)."""
    _check_retryable(job)
    ended = conn.execute(_ENDED_PARENTS_SQL, {"child": job.id, **dict(zip(
        "abc", (s.value for s in _RETRYABLE), strict=True))})
    for parent, state in ended:
        if parent not in batch:
            raise InvalidTransition(f"{job.id} runs after {parent}, which is {state}:"
                                    " retry that one first")


def _check_retryable(job: JobRecord) -> None:
    refuse(rules.retry_refusal(job))


def check_delete(conn: sqlite3.Connection, job: JobRecord, batch: set[str]) -> None:
    refuse(rules.delete_refusal(job))


# ---- a user's steps: each returns the job's state after it (None once deleted) ----------
def cancel(conn: sqlite3.Connection, job: JobRecord, actor: str, now: float) -> State:
    """End a waiting or pending job; a running one is asked to stop (its worker ends it). A
    job that ended already (a parent cancelled earlier in the batch took it along) stays."""
    if job.state in TERMINAL:
        return job.state
    if job.state is State.RUNNING:
        return move(conn, job, State.RUNNING, now, f"cancel requested by {actor}",
                    cancel_requested=True).state
    return end(conn, job, State.CANCELLED, now, f"cancelled by {actor}").state


def hold(conn: sqlite3.Connection, job: JobRecord, actor: str, now: float) -> State:
    check_hold(conn, job, set())
    return move(conn, job, State.WAITING, now, f"held by {actor}", held=True).state


def release(conn: sqlite3.Connection, job: JobRecord, actor: str, now: float) -> State:
    check_release(conn, job, set())
    return move(conn, job, unblocked_state(conn, job), now, f"released by {actor}",
                held=False).state


def retry(conn: sqlite3.Connection, job: JobRecord, actor: str, now: float) -> State:
    """Run a failed, cancelled or timed-out job again under the same id, as a new attempt."""
    _check_retryable(job)
    state = unblocked_state(conn, job)
    moved = move(conn, job, state, now, f"retried by {actor}",
                 **new_attempt(held=False, attempt=job.attempt + 1))
    conn.execute("DELETE FROM results WHERE job_id = ?", (job.id,))
    return moved.state


def delete(conn: sqlite3.Connection, job: JobRecord, actor: str, now: float) -> None:
    """Remove an ended job, with its events, payload, result, dependencies and the
    notifications of its end (sent or not: the job is gone)."""
    check_delete(conn, job, set())
    for table, column in (("jobs", "id"), ("events", "job_id"), ("payloads", "job_id"),
                          ("results", "job_id"), ("deps", "child"), ("outbox", "job_id")):
        conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (job.id,))
