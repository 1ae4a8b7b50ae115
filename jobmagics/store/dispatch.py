"""Worker-side queue operations: registration, heartbeats, claims, finishing, recovery."""
from __future__ import annotations

import dataclasses
import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..checks import resource_counts
from ..model import JobRecord, State, WorkerRecord
from . import lifecycle
from .db import Database
from .rows import JOB_COLUMNS, dumps, job_from_row, worker_from_row
from .schema import LINE, USER_INDEXES_VERSION, SchemaAware

# The claim names its partial index (jobs_claim or jobs_user_claim: WHERE state = 'pending'),
# which SQLite accepts only for a query with that same literal, so the state is spelled in.
_PENDING = f"'{State.PENDING.value}'"
# A job's resource request as stored ('gpu' or 'gpu:2', see ``model._resources``), split in SQL.
_NAME = ("(CASE WHEN instr(r.value, ':') > 0 THEN substr(r.value, 1, instr(r.value, ':') - 1)"
         " ELSE r.value END)")
_COUNT = ("(CASE WHEN instr(r.value, ':') > 0 THEN CAST(substr(r.value, instr(r.value, ':') + 1)"
          " AS INTEGER) ELSE 1 END)")

# The next job, in the claim order of everyone's pending jobs or (a worker serving one user)
# of that user's own: such a worker no longer walks past everyone else's pending jobs.
_CLAIM_SQL = f"""
SELECT {JOB_COLUMNS}, seq FROM jobs INDEXED BY {{index}}
WHERE state = {_PENDING} AND not_before <= :now
  AND (backend <> 'local' OR (cpus <= :slots AND (memory IS NULL OR memory <= :memory)))
  AND backend IN (SELECT value FROM json_each(:backends))
  {{user}}
  AND (resources = '[]' OR NOT EXISTS (
        SELECT 1 FROM json_each(jobs.resources) AS r
        WHERE ifnull(json_extract(:free, '$."' || {_NAME} || '"'), 0) < {_COUNT}))
ORDER BY {LINE}
LIMIT 1
"""

# The units of their resources that the running jobs of this worker's machine hold: a unit
# (gpu 2) is a device of one machine, so every worker on that machine that declares it shares
# it, and workers on other machines have their own.
_HELD_ON_HOST_SQL = f"""
SELECT jobs.units FROM jobs JOIN workers ON workers.id = jobs.worker
WHERE jobs.state = '{State.RUNNING.value}' AND jobs.units IS NOT NULL
  AND workers.host = (SELECT host FROM workers WHERE id = ?)
"""

_HELD_IN_QUEUE_SQL = "SELECT value FROM jobs, json_each(jobs.resources) WHERE state = ?"

_RUNNING_ON_SQL = f"SELECT {JOB_COLUMNS} FROM jobs WHERE worker = ? AND state = ?"


def _running_on(conn: sqlite3.Connection, job_id: str, worker_id: str) -> JobRecord | None:
    """The job if it is still running on this worker; None if the queue gave it to another
    (this worker was presumed dead meanwhile), so a late report changes nothing."""
    job = lifecycle.fetch_job(conn, job_id)
    return job if job.state is State.RUNNING and job.worker == worker_id else None


@dataclass(frozen=True)
class AttemptEnd:
    """How one attempt ended, as a worker records it (``finish``): with the result its process
    reported to the worker (ok, pickle, its one-line error) where it did not store it itself."""

    job_id: str
    state: State
    exit_code: int | None
    error: str | None
    result: tuple[bool, bytes, str | None] | None = None


@dataclass(frozen=True)
class AttemptStart:
    """The process (or the other scheduler's job id) of an attempt a worker started."""

    job_id: str
    pid: int | None
    pid_started: float | None
    backend_id: str | None = None


@dataclass
class Turn:
    """What one ``turn`` did: each ended job's state now (None: no longer this worker's), and
    the jobs it claimed."""

    states: dict[str, State | None] = field(default_factory=dict)
    claimed: list[JobRecord] = field(default_factory=list)


@dataclass
class Capacity:
    """What a worker can take on right now."""

    slots: int
    memory: int
    resources: dict[str, int] = field(default_factory=dict)
    backends: tuple[str, ...] = ("local",)
    only_user: str | None = None
    units: dict[str, list[str]] = field(default_factory=dict)   # the named units it declares

    def declared_units(self) -> dict[str, list[str]]:
        """Each served resource's units: as declared, or (a count only) units '0' to 'N-1'."""
        return {name: self.units.get(name) or [str(i) for i in range(count)]
                for name, count in self.resources.items()}


class DispatchMixin(SchemaAware):
    """A worker's side: registration, heartbeats, claims, reports; needs only ``self.db``."""

    db: Database

    # ---- workers ----------------------------------------------------------------------
    def register_worker(self, worker: WorkerRecord) -> None:
        with self.db.write() as conn:
            for name, capacity in worker.resources.items():
                conn.execute("INSERT INTO resources(name, capacity) VALUES (?, ?) ON CONFLICT(name)"
                             " DO UPDATE SET capacity = excluded.capacity", (name, capacity))
            conn.execute(
                "INSERT OR REPLACE INTO workers(id, host, pid, pid_started, user, started_at,"
                " heartbeat_at, slots, memory, resources, only_user, state, units)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (worker.id, worker.host, worker.pid, worker.pid_started, worker.user,
                 worker.started_at, worker.heartbeat_at, worker.slots, worker.memory,
                 dumps(worker.resources), worker.only_user, worker.state, dumps(worker.units)))

    def heartbeat(self, worker_id: str, state: str = "running") -> bool:
        """Returns False when the queue already gave this worker up for lost."""
        with self.db.write() as conn:
            cursor = conn.execute("UPDATE workers SET heartbeat_at = ?, state = ? WHERE id = ?",
                                  (time.time(), state, worker_id))
            return cursor.rowcount == 1

    def deregister_worker(self, worker_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))

    def workers(self) -> list[WorkerRecord]:
        rows = self.db.read("SELECT * FROM workers ORDER BY started_at")
        return [worker_from_row(r) for r in rows]

    # ---- a worker's turn: what ended, what started, what comes next ---------------------
    def turn(self, worker_id: str, *, ended: Sequence[AttemptEnd] = (),
             started: Sequence[AttemptStart] = (), capacity: Capacity | None = None,
             limit: int = 0) -> Turn:
        """In ONE transaction: record the processes of attempts that started, end the attempts
        that ended (with their reported results), then claim up to ``limit`` jobs that fit
        ``capacity``. A busy worker's round of small jobs costs the queue one commit."""
        now = time.time()
        turn = Turn()
        with self.db.write() as conn:
            for start in started:
                _record_start(conn, worker_id, start)
            for end in ended:
                turn.states[end.job_id] = _end_attempt(conn, worker_id, end, now)
            if capacity is not None and limit > 0:
                turn.claimed = self._claim_in(conn, worker_id, capacity, limit, now)
        return turn

    # ---- claiming ---------------------------------------------------------------------
    def claim(self, worker_id: str, capacity: Capacity, limit: int) -> list[JobRecord]:
        """Atomically move up to ``limit`` pending jobs that fit to running on this worker."""
        return self.turn(worker_id, capacity=capacity, limit=limit).claimed

    def _claim_in(self, conn: sqlite3.Connection, worker_id: str, capacity: Capacity,
                  limit: int, now: float) -> list[JobRecord]:
        claimed: list[JobRecord] = []
        own = capacity.only_user is not None
        per_user = own and self._schema_has(USER_INDEXES_VERSION)
        index = "jobs_user_claim" if per_user else "jobs_claim"
        sql = _CLAIM_SQL.format(index=index, user="AND user = :only_user" if own else "")
        if conn.execute("SELECT value FROM settings WHERE key = 'paused'").fetchone()[0] == "1":
            return []
        free = _free_units(conn, worker_id, capacity.declared_units())
        slots, memory = capacity.slots, capacity.memory
        remote = any(b != "local" for b in capacity.backends)   # not bound by local slots
        backends = json.dumps(list(capacity.backends))
        while len(claimed) < limit and (slots > 0 or remote):
            row = conn.execute(sql, {
                "now": now, "slots": slots, "memory": memory, "only_user": capacity.only_user,
                "backends": backends,
                "free": json.dumps({name: len(units) for name, units in free.items()}),
            }).fetchone()
            if row is None:
                break
            job = lifecycle.start(conn, job_from_row(row), worker_id, now)
            if job.resources:
                job = _hold_units(conn, job, free)
            claimed.append(job)
            slots -= job.cpus if job.backend == "local" else 0
            memory -= (job.memory or 0) if job.backend == "local" else 0
        return claimed

    def set_started(self, job_id: str, worker_id: str, pid: int | None, pid_started: float | None,
                    backend_id: str | None = None) -> None:
        with self.db.write() as conn:
            _record_start(conn, worker_id, AttemptStart(job_id, pid, pid_started, backend_id))

    def cancel_requests(self, worker_id: str) -> list[str]:
        rows = self.db.read("SELECT id FROM jobs WHERE worker = ? AND state = ?"
                            " AND cancel_requested = 1", (worker_id, State.RUNNING.value))
        return [r[0] for r in rows]

    def running_on(self, worker_id: str) -> list[JobRecord]:
        rows = self.db.read(_RUNNING_ON_SQL, (worker_id, State.RUNNING.value))
        return [job_from_row(r) for r in rows]

    def pid_of(self, job_id: str) -> tuple[int | None, float | None]:
        rows = self.db.read("SELECT pid, pid_started FROM jobs WHERE id = ?", (job_id,))
        return (rows[0][0], rows[0][1]) if rows else (None, None)

    # ---- finishing --------------------------------------------------------------------
    def finish(self, job_id: str, worker_id: str, outcome: State, exit_code: int | None,
               error: str | None,
               result: tuple[bool, bytes, str | None] | None = None) -> State | None:
        """Record how an attempt ended (and ``result``, what its process reported: see
        ``AttemptEnd``); retries failures with backoff while attempts remain.

        Returns the state the job is now in, or None if the job is no longer this worker's
        (it was recovered elsewhere while we were presumed dead)."""
        end = AttemptEnd(job_id, outcome, exit_code, error, result)
        return self.turn(worker_id, ended=[end]).states[job_id]

    def requeue(self, job_id: str, worker_id: str, reason: str) -> bool:
        """Give a running job back to the queue without consuming an attempt (worker shutdown)."""
        now = time.time()
        with self.db.write() as conn:
            job = _running_on(conn, job_id, worker_id)
            if job is None:
                return False
            lifecycle.give_back(conn, job, now, reason)
            return True

    def recover_worker(self, worker_id: str, reason: str) -> list[tuple[str, State]]:
        """The worker is gone: requeue its jobs that have retries left, fail the others."""
        now = time.time()
        with self.db.write() as conn:
            rows = conn.execute(_RUNNING_ON_SQL, (worker_id, State.RUNNING.value)).fetchall()
            jobs = [job_from_row(r) for r in rows]
            outcomes = [(job.id, lifecycle.lose(conn, job, now, reason)) for job in jobs]
            conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))
        return outcomes


def _free_units(conn: sqlite3.Connection, worker_id: str,
                declared: dict[str, list[str]]) -> dict[str, list[str]]:
    """The units of each resource this worker declares that a job may take now, in the order
    declared: none that a running job on its machine holds (a unit is a device of one
    machine), and no more than the resource's capacity leaves across all workers (DESIGN: never
    more held than its capacity, whoever holds it); none of a paused resource."""
    if not declared:
        return {}
    room = _room_in_queue(conn)
    taken: dict[str, set[str]] = {}
    for (units,) in conn.execute(_HELD_ON_HOST_SQL, (worker_id,)):
        for name, held in json.loads(units).items():
            taken.setdefault(name, set()).update(held)
    return {name: [u for u in units if u not in taken.get(name, ())][:max(0, room.get(name, 0))]
            for name, units in declared.items()}


def _room_in_queue(conn: sqlite3.Connection) -> dict[str, int]:
    """Each resource's capacity less the units running jobs hold, anywhere (0 when paused)."""
    rows = conn.execute("SELECT name, capacity, paused FROM resources").fetchall()
    room = {r["name"]: 0 if r["paused"] else int(r["capacity"]) for r in rows}
    for (value,) in conn.execute(_HELD_IN_QUEUE_SQL, (State.RUNNING.value,)):
        for name, count in resource_counts([value]).items():
            room[name] = room.get(name, 0) - count
    return room


def _hold_units(conn: sqlite3.Connection, job: JobRecord,
                free: dict[str, list[str]]) -> JobRecord:
    """Give the claimed job the first free units of what it asks for (the claim checked there
    are enough) and record them with its attempt; they are no longer free for this turn."""
    held = {}
    for name, count in resource_counts(job.resources).items():
        held[name], free[name] = free[name][:count], free[name][count:]
    conn.execute("UPDATE jobs SET units = ? WHERE id = ?", (dumps(held), job.id))
    return dataclasses.replace(job, units=held)


def _record_start(conn: sqlite3.Connection, worker_id: str, start: AttemptStart) -> None:
    conn.execute("UPDATE jobs SET pid = ?, pid_started = ?, backend_id = ?"
                 " WHERE id = ? AND worker = ? AND state = ?",
                 (start.pid, start.pid_started, start.backend_id, start.job_id, worker_id,
                  State.RUNNING.value))


def _end_attempt(conn: sqlite3.Connection, worker_id: str, end: AttemptEnd,
                 now: float) -> State | None:
    """``finish`` inside the caller's transaction: nothing if the job is no longer ours."""
    job = _running_on(conn, end.job_id, worker_id)
    if job is None:
        return None
    if end.result is not None:
        ok, blob, said = end.result
        conn.execute("INSERT OR REPLACE INTO results(job_id, ok, result) VALUES (?, ?, ?)",
                     (job.id, int(ok), blob))
        if said is not None:        # what the job itself said went wrong (as save_result)
            job = dataclasses.replace(job, error=said.encode("utf-8", "replace").decode()[:2000])
            conn.execute("UPDATE jobs SET error = ? WHERE id = ?", (job.error, job.id))
    return lifecycle.end_attempt(conn, job, end.state, now, end.exit_code, end.error)
