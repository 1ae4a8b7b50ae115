"""Client-side queue operations: submit, read, and the moves a user makes on a job."""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

from ..errors import InvalidJob, InvalidTransition, JobNotFound, PermissionDenied
from ..model import ACTIVE, TERMINAL, JobRecord, JobSpec, State, format_job_id
from .db import Database
from .rows import JOB_COLUMNS, dumps, job_from_row

_FAILED_STATES = ("failed", "cancelled", "timeout")


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


class JobsMixin:
    db: Database

    # ---- submission -------------------------------------------------------------------
    def submit(self, specs: Sequence[JobSpec], user: str, host: str,
               payloads: Sequence[bytes | None] | None = None) -> list[str]:
        """Insert every spec in ONE transaction: all of them appear, or none."""
        now = time.time()
        day = time.strftime("%Y%m%d", time.localtime(now))
        with self.db.write() as conn:
            known = {r[0] for r in conn.execute("SELECT name FROM resources")}
            last = conn.execute(
                "INSERT INTO counters(day, n) VALUES (?, ?) ON CONFLICT(day) DO UPDATE"
                " SET n = n + excluded.n RETURNING n", (day, len(specs))).fetchone()[0]
            ids = [format_job_id(day, last - len(specs) + 1 + i) for i in range(len(specs))]
            batch = dict(zip(ids, specs))
            for index, (job_id, spec) in enumerate(batch.items()):
                state = self._initial_state(conn, spec, known, batch)
                self._insert(conn, job_id, spec, state, user, host, now)
                payload = payloads[index] if payloads else None
                if payload is not None:
                    conn.execute("INSERT INTO payloads(job_id, payload) VALUES (?, ?)", (job_id, payload))
                for parent in spec.after:
                    conn.execute("INSERT INTO deps(child, parent) VALUES (?, ?)", (job_id, parent))
                record_event(conn, job_id, now, state.value,
                             f"submitted by {user}" + (" (held)" if spec.hold else ""))
        return ids

    @staticmethod
    def _initial_state(conn: sqlite3.Connection, spec: JobSpec, known: set[str],
                       batch: dict[str, JobSpec]) -> State:
        unknown = [r for r in spec.resources if r not in known]
        if unknown:
            raise InvalidJob(f"unknown resource {unknown[0]!r}; this queue knows "
                             f"{', '.join(sorted(known)) or 'none'} (a worker started with "
                             f"--resource {unknown[0]} adds it)")
        waiting = spec.hold
        for parent in spec.after:
            row = conn.execute("SELECT state FROM jobs WHERE id = ?", (parent,)).fetchone()
            if row is None:
                if parent in batch:
                    waiting = True
                    continue
                raise InvalidJob(f"cannot run after {parent}: no such job")
            if row[0] in _FAILED_STATES:
                raise InvalidJob(f"cannot run after {parent}: it is {row[0]}, so this job could never start")
            waiting = waiting or row[0] != "completed"
        return State.WAITING if waiting else State.PENDING

    @staticmethod
    def _insert(conn: sqlite3.Connection, job_id: str, spec: JobSpec, state: State,
                user: str, host: str, now: float) -> None:
        conn.execute(
            "INSERT INTO jobs(id, kind, name, user, host, state, held, priority, resources, cpus,"
            " memory, after, timeout, retries, retry_delay, submitted_at, backend, cwd, env,"
            " command, code, experiment, options) VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job_id, spec.kind, spec.name, user, host, state.value, int(spec.hold), spec.priority,
             dumps(spec.resources), spec.cpus, spec.memory, dumps(spec.after), spec.timeout,
             spec.retries, spec.retry_delay, now, spec.backend, spec.cwd, dumps(spec.env),
             dumps(spec.command), spec.code, dumps(spec.experiment), dumps(spec.options)))

    # ---- reading ----------------------------------------------------------------------
    def get(self, job_id: str) -> JobRecord:
        rows = self.db.read(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise JobNotFound(job_id)
        return job_from_row(rows[0])

    def find(self, *, states: Sequence[State] | None = None, user: str | None = None,
             name: str | None = None, since: float | None = None, limit: int | None = 100,
             offset: int = 0, oldest_first: bool = False) -> list[JobRecord]:
        where, params = self._filters(states, user, name, since)
        order = "seq" if oldest_first else "seq DESC"
        sql = f"SELECT {JOB_COLUMNS} FROM jobs {where} ORDER BY {order} LIMIT ? OFFSET ?"
        rows = self.db.read(sql, (*params, -1 if limit is None else limit, offset))
        return [job_from_row(r) for r in rows]

    def count(self, *, states: Sequence[State] | None = None, user: str | None = None,
              name: str | None = None, since: float | None = None) -> int:
        where, params = self._filters(states, user, name, since)
        return int(self.db.read(f"SELECT count(*) FROM jobs {where}", tuple(params))[0][0])

    @staticmethod
    def _filters(states: Sequence[State] | None, user: str | None, name: str | None,
                 since: float | None) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
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

    def active(self) -> list[JobRecord]:
        """Running, then pending in start order, then waiting."""
        rows = self.db.read(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ('running', 'pending', 'waiting')"
            " ORDER BY CASE state WHEN 'running' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END,"
            " priority DESC, seq")
        return [job_from_row(r) for r in rows]

    def events(self, job_id: str) -> list[dict[str, Any]]:
        self.get(job_id)
        rows = self.db.read("SELECT at, state, detail FROM events WHERE job_id = ? ORDER BY id", (job_id,))
        return [dict(r) for r in rows]

    def state_counts(self) -> dict[str, int]:
        rows = self.db.read("SELECT state, count(*) AS n FROM jobs GROUP BY state")
        return {r["state"]: r["n"] for r in rows}

    def payload(self, job_id: str) -> bytes | None:
        rows = self.db.read("SELECT payload FROM payloads WHERE job_id = ?", (job_id,))
        return bytes(rows[0][0]) if rows else None

    def result(self, job_id: str) -> tuple[bool, bytes] | None:
        rows = self.db.read("SELECT ok, result FROM results WHERE job_id = ?", (job_id,))
        return (bool(rows[0][0]), bytes(rows[0][1])) if rows else None

    def save_result(self, job_id: str, ok: bool, blob: bytes) -> None:
        with self.db.write() as conn:
            conn.execute("INSERT OR REPLACE INTO results(job_id, ok, result) VALUES (?, ?, ?)",
                         (job_id, int(ok), blob))

    def set_progress(self, job_id: str, progress: float | None, stage: str | None) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE jobs SET progress = coalesce(?, progress), stage = coalesce(?, stage)"
                         " WHERE id = ? AND state = 'running'", (progress, stage, job_id))

    # ---- settings ---------------------------------------------------------------------
    def setting(self, key: str, default: Any = None) -> Any:
        rows = self.db.read("SELECT value FROM settings WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else default

    def set_setting(self, key: str, value: Any) -> None:
        with self.db.write() as conn:
            conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def set_paused(self, resource: str | None, paused: bool) -> None:
        with self.db.write() as conn:
            if resource is None:
                conn.execute("UPDATE settings SET value = ? WHERE key = 'paused'", ("1" if paused else "0",))
                return
            if conn.execute("SELECT 1 FROM resources WHERE name = ?", (resource,)).fetchone() is None:
                raise InvalidJob(f"unknown resource {resource!r}")
            conn.execute("UPDATE resources SET paused = ? WHERE name = ?", (int(paused), resource))

    def resources(self) -> dict[str, dict[str, Any]]:
        rows = self.db.read("SELECT name, capacity, paused FROM resources ORDER BY name")
        held = self.db.read("SELECT value AS name, count(*) AS n FROM jobs, json_each(jobs.resources)"
                            " WHERE state = 'running' GROUP BY value")
        in_use = {r["name"]: r["n"] for r in held}
        return {r["name"]: {"capacity": r["capacity"], "paused": bool(r["paused"]),
                            "in_use": in_use.get(r["name"], 0)} for r in rows}

    # ---- a user's moves ---------------------------------------------------------------
    def _authorize(self, conn: sqlite3.Connection, job: JobRecord, actor: str, verb: str) -> None:
        if job.user == actor:
            return
        admins = json.loads(conn.execute("SELECT value FROM settings WHERE key = 'admins'").fetchone()[0])
        if actor not in admins:
            raise PermissionDenied(f"{actor} may not {verb} {job.id}: it belongs to {job.user}"
                                   " (only its owner or a queue admin may)")

    def cancel(self, job_id: str, actor: str) -> State:
        now = time.time()
        with self.db.write() as conn:
            job = fetch_job(conn, job_id)
            self._authorize(conn, job, actor, "cancel")
            if job.state in TERMINAL:
                raise InvalidTransition(f"{job_id} is already {job.state.value}; nothing to cancel")
            if job.state is State.RUNNING:
                conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
                record_event(conn, job_id, now, "running", f"cancel requested by {actor}")
                return State.RUNNING
            end_job(conn, job_id, State.CANCELLED, now, f"cancelled by {actor}")
            return State.CANCELLED

    def hold(self, job_id: str, actor: str) -> None:
        with self.db.write() as conn:
            job = fetch_job(conn, job_id)
            self._authorize(conn, job, actor, "hold")
            if job.state not in (State.PENDING, State.WAITING) or job.held:
                raise InvalidTransition(f"{job_id} is {'held' if job.held else job.state.value};"
                                        " only a pending or waiting job can be held")
            conn.execute("UPDATE jobs SET held = 1, state = 'waiting' WHERE id = ?", (job_id,))
            record_event(conn, job_id, time.time(), "waiting", f"held by {actor}")

    def release(self, job_id: str, actor: str) -> State:
        with self.db.write() as conn:
            job = fetch_job(conn, job_id)
            self._authorize(conn, job, actor, "release")
            if not job.held:
                raise InvalidTransition(f"{job_id} is not held")
            state = self._unblocked_state(conn, job_id)
            conn.execute("UPDATE jobs SET held = 0, state = ? WHERE id = ?", (state.value, job_id))
            record_event(conn, job_id, time.time(), state.value, f"released by {actor}")
            return state

    @staticmethod
    def _unblocked_state(conn: sqlite3.Connection, job_id: str) -> State:
        blocked = conn.execute("SELECT 1 FROM deps d JOIN jobs j ON j.id = d.parent"
                               " WHERE d.child = ? AND j.state != 'completed' LIMIT 1", (job_id,)).fetchone()
        return State.WAITING if blocked else State.PENDING

    def retry(self, job_id: str, actor: str) -> State:
        """Run a failed, cancelled or timed-out job again under the same id."""
        now = time.time()
        with self.db.write() as conn:
            job = fetch_job(conn, job_id)
            self._authorize(conn, job, actor, "retry")
            if job.state not in (State.FAILED, State.CANCELLED, State.TIMEOUT):
                raise InvalidTransition(f"{job_id} is {job.state.value}; only failed, cancelled or"
                                        " timed-out jobs can be retried")
            failed_parent = conn.execute(
                "SELECT j.id, j.state FROM deps d JOIN jobs j ON j.id = d.parent WHERE d.child = ?"
                " AND j.state IN ('failed', 'cancelled', 'timeout') LIMIT 1", (job_id,)).fetchone()
            if failed_parent:
                raise InvalidTransition(f"{job_id} runs after {failed_parent[0]}, which is"
                                        f" {failed_parent[1]}: retry that one first")
            state = self._unblocked_state(conn, job_id)
            conn.execute(
                "UPDATE jobs SET state = ?, held = 0, attempt = attempt + 1, not_before = 0,"
                " started_at = NULL, finished_at = NULL, exit_code = NULL, error = NULL, worker = NULL,"
                " pid = NULL, progress = NULL, stage = NULL, cancel_requested = 0, backend_id = NULL"
                " WHERE id = ?", (state.value, job_id))
            conn.execute("DELETE FROM results WHERE job_id = ?", (job_id,))
            record_event(conn, job_id, now, state.value, f"retried by {actor}")
            return state

    def delete(self, job_id: str, actor: str) -> None:
        with self.db.write() as conn:
            job = fetch_job(conn, job_id)
            self._authorize(conn, job, actor, "delete")
            if job.state in ACTIVE:
                raise InvalidTransition(f"{job_id} is {job.state.value}; cancel it before deleting it")
            for table, column in (("jobs", "id"), ("events", "job_id"), ("payloads", "job_id"),
                                  ("results", "job_id"), ("deps", "child")):
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (job_id,))
