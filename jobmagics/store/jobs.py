"""Client-side queue operations: submit, read, and the moves a user makes on a job."""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..arrays import ArraySpec
from ..checks import resource_counts
from ..errors import InvalidJob, JobmagicsError, JobNotFound
from ..model import (
    RETRYABLE,
    JobRecord,
    JobSpec,
    State,
    check_text,
    dependency_cycle,
    format_job_id,
)
from . import lifecycle
from .arrays import array_parent_state, check_element_count, plan_elements
from .db import Database
from .rows import JOB_COLUMNS, job_from_row
from .schema import (
    ARRAYS_VERSION,
    COUNTS_VERSION,
    DAY_TO_DAY_VERSION,
    SUBMITTED_INDEX_VERSION,
    USER_INDEXES_VERSION,
    SchemaAware,
)

__all__ = ["ACTIVE_ORDER", "JobsMixin", "active_page_sql", "counts_sql"]

_NEVER_STARTS = RETRYABLE    # a child of these never runs
ACTIVE_ORDER = tuple(s.value for s in (State.RUNNING, State.PENDING, State.WAITING))

# The first page of the queue: running jobs, then pending ones in the order they will start
# (a claim index: of everyone, or of one user), then waiting ones in submission order. Each
# part is read from an index with its own LIMIT, so the page costs the same with 10 or
# 1,000,000 jobs behind it (of one user: the parts search jobs_user, user and state). The
# states are spelled in: SQLite takes a named partial index (WHERE state = 'pending') only for a
# query with that same literal.
_RUNNING, _PENDING, _WAITING = (f"'{s.value}'" for s in (State.RUNNING, State.PENDING,
                                                       State.WAITING))
_ACTIVE_PAGE_SQL = f"""
SELECT * FROM (SELECT {{columns}}, seq, 0 AS part, -priority AS rank, seq AS line FROM jobs
               WHERE state = {_RUNNING} {{user}} ORDER BY priority DESC, seq LIMIT :depth)
UNION ALL
SELECT * FROM (SELECT {{columns}}, seq, 1 AS part, -priority AS rank, {{line}} AS line
               FROM jobs INDEXED BY {{claim}}
               WHERE state = {_PENDING} {{user}} ORDER BY priority DESC, {{line}} LIMIT :depth)
UNION ALL
SELECT * FROM (SELECT {{columns}}, seq, 2 AS part, 0 AS rank, seq AS line FROM jobs
               WHERE state = {_WAITING} {{user}} ORDER BY seq LIMIT :depth)
ORDER BY part, rank, line LIMIT :limit OFFSET :offset
"""
_EVERY_STATE = tuple(State)


def active_page_sql(user: bool, *, indexed: bool = True, placed: bool = True,
                    columns: str = JOB_COLUMNS, elements: bool = True) -> str:
    """The page of everyone's active jobs or (``user``) of one user's; ``elements``: with the
    elements of arrays (without: those are shown as their arrays). A queue on a schema older
    than v3 (read-only, so not migrated) has no claim index per user, older than v6 no
    places in line (submission order)."""
    claim = "jobs_user_claim" if user and indexed else "jobs_claim"
    filters = ("AND user = :user" if user else "") + ("" if elements else
                                                      " AND array_id IS NULL")
    line = "ifnull(place, seq)" if placed else "seq"
    return _ACTIVE_PAGE_SQL.format(user=filters, claim=claim, columns=columns, line=line)


def counts_sql(where: str, *, counted: bool) -> str:
    """Jobs per state matching ``where``: from state_counts (schema v2: a few rows per user, kept
    by triggers), or, in a queue still on v1 (read-only, so not migrated), by counting rows."""
    return (f"SELECT state, total(n) FROM state_counts {where} GROUP BY state" if counted
            else f"SELECT state, count(*) FROM jobs {where} GROUP BY state")


# an experiment whose class could not be imported where it was submitted says why under this
# key (experiments.checking); its submission event says the worker will check it
UNCHECKED = "unchecked"
_MAX_NOTE = 300


def unchecked_note(spec: JobSpec) -> str:
    """What the submission event adds for an experiment not checked at submit ("")."""
    reason = (spec.experiment or {}).get(UNCHECKED)
    if not isinstance(reason, str) or not reason:
        return ""
    return f"; not checked at submit: {reason[:_MAX_NOTE]}; checked when it starts"


@dataclass(frozen=True)
class Submission:
    """One caller's jobs, submitted together (all of them, or none)."""

    specs: Sequence[JobSpec]
    user: str
    host: str
    payloads: Sequence[bytes | None] | None = None
    array: ArraySpec | None = None       # the specs are the elements of one array


class JobsMixin(SchemaAware):
    """Submission, reading, progress and settings; needs only ``self.db``."""

    db: Database

    # ---- submission -------------------------------------------------------------------
    def submit(self, specs: Sequence[JobSpec], user: str, host: str,
               payloads: Sequence[bytes | None] | None = None,
               array: ArraySpec | None = None) -> list[str]:
        """Insert every spec in ONE transaction: all of them appear, or none. With ``array``,
        they are the elements of one array (a new one, or ``array.extend``)."""
        with self.db.write() as conn:
            return self._insert(conn, Submission(specs, user, host, payloads, array),
                                time.time())

    def submit_together(
            self, submissions: Sequence[Submission]) -> list[list[str] | JobmagicsError]:
        """Several callers' submissions in ONE transaction (a service's group commit: one
        commit for all who asked at once). Each is all or nothing on its own: the outcome of
        each is its ids, or the error that refused it and only it."""
        outcomes: list[list[str] | JobmagicsError] = []
        now = time.time()
        if len(submissions) == 1:          # alone: its own transaction is its all-or-nothing
            try:
                with self.db.write() as conn:
                    return [self._insert(conn, submissions[0], now)]
            except JobmagicsError as exc:
                return [exc]
        with self.db.write() as conn:
            for submission in submissions:
                conn.execute("SAVEPOINT submission")
                try:
                    outcomes.append(self._insert(conn, submission, now))
                except JobmagicsError as exc:
                    conn.execute("ROLLBACK TO submission")
                    outcomes.append(exc)
                conn.execute("RELEASE submission")
        return outcomes

    def _insert(self, conn: sqlite3.Connection, submission: Submission, now: float) -> list[str]:
        specs, user, array = submission.specs, submission.user, submission.array
        day = time.strftime("%Y%m%d", time.localtime(now))
        known = {r[0] for r in conn.execute("SELECT name FROM resources")}
        if array is not None:
            check_element_count(specs, array)
        numbers = 0 if array is not None and array.extend else 1 if array else len(specs)
        last = conn.execute(
            "INSERT INTO counters(day, n) VALUES (?, ?) ON CONFLICT(day) DO UPDATE"
            " SET n = n + excluded.n RETURNING n", (day, numbers)).fetchone()[0]
        plan = None if array is None else plan_elements(
            conn, array, specs, user, submission.host, last, day, now)
        ids = ([plan.element(i)[0] for i in range(len(specs))] if plan else
               [format_job_id(day, last - len(specs) + 1 + i) for i in range(len(specs))])
        batch = dict(zip(ids, specs, strict=True))
        _refuse_cycles(batch)
        entries = []
        for index, (job_id, spec) in enumerate(batch.items()):
            entry = lifecycle.Entry(job_id, spec, self._initial_state(conn, spec, known, batch),
                                    f"submitted by {user}" + (" (held)" if spec.held else "")
                                    + unchecked_note(spec))
            if plan is not None:
                plan.place(entry, index)
            entries.append(entry)
        lifecycle.enter(conn, entries, user, submission.host, now)
        if submission.payloads:
            conn.executemany("INSERT INTO payloads(job_id, payload) VALUES (?, ?)",
                             [(i, p) for i, p in zip(ids, submission.payloads, strict=True)
                              if p is not None])
        conn.executemany("INSERT INTO deps(child, parent) VALUES (?, ?)",
                         [(i, parent) for i, spec in batch.items() for parent in spec.after])
        return ids

    @staticmethod
    def _initial_state(conn: sqlite3.Connection, spec: JobSpec, known: set[str],
                       batch: dict[str, JobSpec]) -> State:
        unknown = [r for r in resource_counts(spec.resources) if r not in known]
        if unknown:
            raise InvalidJob(f"unknown resource {unknown[0]!r}; this queue knows "
                             f"{', '.join(sorted(known)) or 'none'} (a worker started with "
                             f"--resource {unknown[0]} adds it)")
        waiting = spec.held
        for parent in spec.after:
            row = conn.execute("SELECT state FROM jobs WHERE id = ?", (parent,)).fetchone()
            if row is None and parent in batch:
                waiting = True
                continue
            state = State(row[0]) if row is not None else array_parent_state(conn, parent)
            if state is None:
                raise InvalidJob(f"cannot run after {parent}: no such job")
            if state in _NEVER_STARTS:
                what = f"it is {state.value}" if row is not None else \
                    "an element of it ended without completing"
                raise InvalidJob(f"cannot run after {parent}: {what},"
                                 " so this job could never start")
            waiting = waiting or state is not State.COMPLETED
        return State.WAITING if waiting else State.PENDING

    # ---- reading ----------------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord:
        rows = self.db.read(f"SELECT {self._job_columns()} FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise JobNotFound(job_id)
        return job_from_row(rows[0])

    def find(self, *, states: Sequence[State] | None = None, user: str | None = None,
             name: str | None = None, since: float | None = None, limit: int | None = 100,
             offset: int = 0, oldest_first: bool = False,
             elements: bool = True) -> list[JobRecord]:
        where, params = self._filters(states, user, name, since)
        if not elements and self._schema_has(ARRAYS_VERSION):
            where += (" AND " if where else "WHERE ") + "array_id IS NULL"
        order = "seq" if oldest_first else "seq DESC"
        sql = (f"SELECT {self._job_columns()} FROM {self._jobs_since(since)} {where}"
               f" ORDER BY {order} LIMIT ? OFFSET ?")
        rows = self.db.read(sql, (*params, -1 if limit is None else limit, offset))
        return [job_from_row(r) for r in rows]

    def count(self, *, states: Sequence[State] | None = None, user: str | None = None,
              name: str | None = None, since: float | None = None,
              elements: bool = True) -> int:
        where, params = self._filters(states, user, name, since)
        if not name and since is None and self._schema_has(COUNTS_VERSION):   # state_counts knows
            sql = f"SELECT total(n) FROM state_counts {where}"
        else:
            sql = f"SELECT count(*) FROM {self._jobs_since(since)} {where}"
        total = int(self.db.read(sql, tuple(params))[0][0])
        if elements or not self._schema_has(ARRAYS_VERSION):
            return total
        # all of them, less the elements (a walk of the elements' index, not of every job)
        where += (" AND " if where else "WHERE ") + "array_id IS NOT NULL"
        sql = f"SELECT count(*) FROM jobs INDEXED BY jobs_array {where}"
        return total - int(self.db.read(sql, tuple(params))[0][0])

    def _jobs_since(self, since: float | None) -> str:
        """The jobs table, read (with ``since``) from the range of jobs_submitted: the planner
        would rather search jobs_user, through all of one user's jobs of those states."""
        if since is None or not self._schema_has(SUBMITTED_INDEX_VERSION):
            return "jobs"
        return "jobs INDEXED BY jobs_submitted"

    def _counts_by_state(self, states: Sequence[str], user: str | None = None) -> dict[str, int]:
        """How many jobs (of ``user``) are in each of ``states``, read in one statement (so
        the counts are of the same moment)."""
        where, params = self._filters([State(s) for s in states], user, None, None)
        sql = counts_sql(where, counted=self._schema_has(COUNTS_VERSION))
        rows = self.db.read(sql, tuple(params))
        found = {row[0]: int(row[1]) for row in rows}
        return {state: found.get(state, 0) for state in states}

    @staticmethod
    def _filters(states: Sequence[State] | None, user: str | None, name: str | None,
                 since: float | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if user and not states:
            states = _EVERY_STATE     # so one user's newest are a search of jobs_user per state
        if states:
            clauses.append(f"state IN ({', '.join('?' * len(states))})")
            params.extend(s.value for s in states)
        if user:
            clauses.append("user = ?")
            params.append(user)
        if name:
            clauses.append("name = ?")
            params.append(name)
        if since is not None:
            clauses.append("submitted_at >= ?")
            params.append(since)
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    def active(self, limit: int | None = None, offset: int = 0,
               user: str | None = None, elements: bool = True) -> list[JobRecord]:
        """Running, then pending in start order (priority, then place in line), then waiting (in
        submission order): ``limit`` of them from ``offset``, of everyone or of ``user``;
        without the elements of arrays unless ``elements``."""
        sql = active_page_sql(bool(user), indexed=self._schema_has(USER_INDEXES_VERSION),
                              placed=self._schema_has(DAY_TO_DAY_VERSION),
                              columns=self._job_columns(),
                              elements=elements or not self._schema_has(ARRAYS_VERSION))
        depth = -1 if limit is None else limit + offset
        rows = self.db.read(sql, {"depth": depth, "limit": -1 if limit is None else limit,
                                  "offset": offset, "user": user})
        return [job_from_row(r) for r in rows]

    def active_counts(self, user: str | None = None) -> dict[str, int]:
        """How many jobs (of ``user``) are running, pending and waiting."""
        return self._counts_by_state(ACTIVE_ORDER, user)

    def events(self, job_id: str) -> list[dict[str, Any]]:
        self.get(job_id)
        rows = self.db.read("SELECT at, state, detail FROM events WHERE job_id = ? ORDER BY id",
                            (job_id,))
        return [dict(r) for r in rows]

    def state_counts(self) -> dict[str, int]:
        """Jobs per state (states with none left out)."""
        counts = self._counts_by_state([s.value for s in State])
        return {state: n for state, n in counts.items() if n}

    def payload(self, job_id: str) -> bytes | None:
        rows = self.db.read("SELECT payload FROM payloads WHERE job_id = ?", (job_id,))
        return bytes(rows[0][0]) if rows else None

    def result(self, job_id: str, trust: bool = False) -> tuple[bool, bytes] | None:
        """(ok, pickle) of a job; ``trust`` matters to a system queue's service, which gives
        another account's result only to a caller who trusts it (this reader has the file)."""
        rows = self.db.read("SELECT ok, result FROM results WHERE job_id = ?", (job_id,))
        return (bool(rows[0][0]), bytes(rows[0][1])) if rows else None

    def save_result(self, job_id: str, ok: bool, blob: bytes, error: str | None = None) -> None:
        """Store a function's value (or exception). ``error`` says in one line why a running
        job failed; the worker records it as the job's error when the attempt ends."""
        with self.db.write() as conn:
            conn.execute("INSERT OR REPLACE INTO results(job_id, ok, result) VALUES (?, ?, ?)",
                         (job_id, int(ok), blob))
            if error is not None:
                conn.execute("UPDATE jobs SET error = ? WHERE id = ? AND state = ?",
                             (error.encode("utf-8", "replace").decode()[:2000], job_id,
                              State.RUNNING.value))

    def set_progress(self, job_id: str, progress: float | None, stage: str | None) -> None:
        if stage is not None:
            check_text("stage", stage, 500)
        with self.db.write() as conn:
            conn.execute("UPDATE jobs SET progress = coalesce(?, progress),"
                         " stage = coalesce(?, stage) WHERE id = ? AND state = ?",
                         (progress, stage, job_id, State.RUNNING.value))

    # ---- settings ---------------------------------------------------------------------
    def setting(self, key: str, default: Any = None) -> Any:
        rows = self.db.read("SELECT value FROM settings WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def set_setting(self, key: str, value: Any) -> None:
        with self.db.write() as conn:
            conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)",
                         (key, json.dumps(value)))

    def set_paused(self, resource: str | None, paused: bool) -> None:
        with self.db.write() as conn:
            if resource is None:
                conn.execute("UPDATE settings SET value = ? WHERE key = 'paused'",
                             ("1" if paused else "0",))
                return
            known = conn.execute("SELECT 1 FROM resources WHERE name = ?", (resource,)).fetchone()
            if known is None:
                raise InvalidJob(f"unknown resource {resource!r}")
            conn.execute("UPDATE resources SET paused = ? WHERE name = ?", (int(paused), resource))

    def resources(self) -> dict[str, dict[str, Any]]:
        rows = self.db.read("SELECT name, capacity, paused FROM resources ORDER BY name")
        held = self.db.read("SELECT value FROM jobs, json_each(jobs.resources) WHERE state = ?",
                            (State.RUNNING.value,))
        in_use: dict[str, int] = {}
        for row in held:
            for name, units in resource_counts([row[0]]).items():   # 'gpu:2': two units
                in_use[name] = in_use.get(name, 0) + units
        return {r["name"]: {"capacity": r["capacity"], "paused": bool(r["paused"]),
                            "in_use": in_use.get(r["name"], 0)} for r in rows}


def _refuse_cycles(batch: dict[str, JobSpec]) -> None:
    """Jobs of one submission that (through each other) run after themselves would wait forever."""
    cycle = dependency_cycle({job_id: [p for p in spec.after if p in batch]
                              for job_id, spec in batch.items()})
    if cycle is None:
        return
    if len(cycle) == 2:
        raise InvalidJob(f"{cycle[0]} cannot run after itself (--after names the job's own id)")
    raise InvalidJob("these jobs would wait for each other forever: " + " runs after ".join(cycle))
