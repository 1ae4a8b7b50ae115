"""Worker-side queue operations: registration, heartbeats, claims, finishing, recovery."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from ..model import JobRecord, State, WorkerRecord
from .db import Database
from .moves import end_job, fetch_job, record_event
from .rows import JOB_COLUMNS, dumps, job_from_row, worker_from_row
from .schema import USER_INDEXES_VERSION, SchemaAware

# The next job, in the claim order of everyone's pending jobs or (a worker serving one user)
# of that user's own: such a worker no longer walks past everyone else's pending jobs.
_CLAIM_SQL = f"""
SELECT {JOB_COLUMNS}, seq FROM jobs INDEXED BY {{index}}
WHERE state = 'pending' AND not_before <= :now
  AND (backend <> 'local' OR (cpus <= :slots AND (memory IS NULL OR memory <= :memory)))
  AND backend IN (SELECT value FROM json_each(:backends))
  {{user}}
  AND (resources = '[]' OR NOT EXISTS (
        SELECT 1 FROM json_each(jobs.resources) AS r
        WHERE r.value NOT IN (SELECT value FROM json_each(:available))))
ORDER BY priority DESC, seq
LIMIT 1
"""


def _running_on(conn, job_id: str, worker_id: str) -> JobRecord | None:  # type: ignore[no-untyped-def]
    """The job if it is still running on this worker; None if the queue gave it to another
    (this worker was presumed dead meanwhile), so a late report changes nothing."""
    job = fetch_job(conn, job_id)
    return job if job.state is State.RUNNING and job.worker == worker_id else None


@dataclass
class Capacity:
    """What a worker can take on right now."""

    slots: int
    memory: int
    resources: dict[str, int] = field(default_factory=dict)
    backends: tuple[str, ...] = ("local",)
    only_user: str | None = None


class DispatchMixin(SchemaAware):
    db: Database

    # ---- workers ----------------------------------------------------------------------
    def register_worker(self, worker: WorkerRecord) -> None:
        with self.db.write() as conn:
            for name, capacity in worker.resources.items():
                conn.execute("INSERT INTO resources(name, capacity) VALUES (?, ?) ON CONFLICT(name)"
                             " DO UPDATE SET capacity = excluded.capacity", (name, capacity))
            conn.execute(
                "INSERT OR REPLACE INTO workers(id, host, pid, pid_started, user, started_at,"
                " heartbeat_at, slots, memory, resources, only_user, state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (worker.id, worker.host, worker.pid, worker.pid_started, worker.user, worker.started_at,
                 worker.heartbeat_at, worker.slots, worker.memory, dumps(worker.resources),
                 worker.only_user, worker.state))

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
        return [worker_from_row(r) for r in self.db.read("SELECT * FROM workers ORDER BY started_at")]

    # ---- claiming ---------------------------------------------------------------------
    def claim(self, worker_id: str, capacity: Capacity, limit: int) -> list[JobRecord]:
        """Atomically move up to ``limit`` pending jobs that fit to running on this worker."""
        now = time.time()
        claimed: list[JobRecord] = []
        own = capacity.only_user is not None
        index = "jobs_user_claim" if own and self._schema_has(USER_INDEXES_VERSION) else "jobs_claim"
        sql = _CLAIM_SQL.format(index=index, user="AND user = :only_user" if own else "")
        with self.db.write() as conn:
            if conn.execute("SELECT value FROM settings WHERE key = 'paused'").fetchone()[0] == "1":
                return []
            free = self._free_resources(conn, capacity.resources)
            slots, memory = capacity.slots, capacity.memory
            remote = any(b != "local" for b in capacity.backends)   # not bound by local slots
            while len(claimed) < limit and (slots > 0 or remote):
                row = conn.execute(sql, {
                    "now": now, "slots": slots, "memory": memory, "only_user": capacity.only_user,
                    "backends": json.dumps(list(capacity.backends)),
                    "available": json.dumps([r for r, n in free.items() if n > 0])}).fetchone()
                if row is None:
                    break
                conn.execute("UPDATE jobs SET state = 'running', worker = ?, started_at = ?, pid = NULL,"
                             " progress = NULL, stage = NULL, error = NULL WHERE seq = ?", (worker_id, now, row["seq"]))
                record_event(conn, row["id"], now, "running", f"attempt {row['attempt']} on {worker_id}")
                job = job_from_row(row)
                job.state, job.worker, job.started_at, job.error = State.RUNNING, worker_id, now, None
                claimed.append(job)
                slots -= job.cpus if job.backend == "local" else 0
                memory -= (job.memory or 0) if job.backend == "local" else 0
                for name in job.resources:
                    free[name] -= 1
        return claimed

    @staticmethod
    def _free_resources(conn, served: dict[str, int]) -> dict[str, int]:  # type: ignore[no-untyped-def]
        if not served:
            return {}
        rows = conn.execute("SELECT name, capacity, paused FROM resources").fetchall()
        limits = {r["name"]: (0 if r["paused"] else r["capacity"]) for r in rows if r["name"] in served}
        held = conn.execute("SELECT value, count(*) FROM jobs, json_each(jobs.resources)"
                            " WHERE state = 'running' GROUP BY value").fetchall()
        in_use = {r[0]: r[1] for r in held}
        return {name: limit - in_use.get(name, 0) for name, limit in limits.items()}

    def set_started(self, job_id: str, worker_id: str, pid: int | None, pid_started: float | None,
                    backend_id: str | None = None) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE jobs SET pid = ?, pid_started = ?, backend_id = ? WHERE id = ?"
                         " AND worker = ? AND state = 'running'", (pid, pid_started, backend_id, job_id, worker_id))

    def cancel_requests(self, worker_id: str) -> list[str]:
        rows = self.db.read("SELECT id FROM jobs WHERE worker = ? AND state = 'running'"
                            " AND cancel_requested = 1", (worker_id,))
        return [r[0] for r in rows]

    def running_on(self, worker_id: str) -> list[JobRecord]:
        rows = self.db.read(f"SELECT {JOB_COLUMNS} FROM jobs WHERE worker = ? AND state = 'running'",
                            (worker_id,))
        return [job_from_row(r) for r in rows]

    def pid_of(self, job_id: str) -> tuple[int | None, float | None]:
        rows = self.db.read("SELECT pid, pid_started FROM jobs WHERE id = ?", (job_id,))
        return (rows[0][0], rows[0][1]) if rows else (None, None)

    # ---- finishing --------------------------------------------------------------------
    def finish(self, job_id: str, worker_id: str, outcome: State, exit_code: int | None,
               error: str | None) -> State | None:
        """Record how an attempt ended; retries failures with backoff while attempts remain.

        Returns the state the job is now in, or None if the job is no longer this worker's
        (it was recovered elsewhere while we were presumed dead)."""
        now = time.time()
        with self.db.write() as conn:
            job = _running_on(conn, job_id, worker_id)
            if job is None:
                return None
            if job.cancel_requested:
                outcome = State.CANCELLED
                error = error or "cancelled while running"
            elif outcome is State.FAILED and job.error:
                error = job.error        # what the job itself said went wrong (save_result)
            if outcome in (State.FAILED, State.TIMEOUT) and job.attempt <= job.retries:
                delay = job.retry_delay * 2 ** (job.attempt - 1)
                self._requeue(conn, job, now, now + delay, consume_attempt=True,
                              detail=f"attempt {job.attempt} {outcome.value}"
                                     f" ({error or f'exit {exit_code}'}); retry in {delay:.1f} s")
                return State.PENDING
            end_job(conn, job_id, outcome, now, error, exit_code)
            return outcome

    @staticmethod
    def _requeue(conn, job: JobRecord, now: float, not_before: float, *, consume_attempt: bool,  # type: ignore[no-untyped-def]
                 detail: str) -> None:
        conn.execute("UPDATE jobs SET state = 'pending', worker = NULL, pid = NULL, started_at = NULL,"
                     " attempt = attempt + ?, not_before = ?, backend_id = NULL WHERE id = ?",
                     (1 if consume_attempt else 0, not_before, job.id))
        record_event(conn, job.id, now, "pending", detail)

    def requeue(self, job_id: str, worker_id: str, reason: str) -> bool:
        """Give a running job back to the queue without consuming an attempt (worker shutdown)."""
        now = time.time()
        with self.db.write() as conn:
            job = _running_on(conn, job_id, worker_id)
            if job is None:
                return False
            if job.cancel_requested:
                end_job(conn, job_id, State.CANCELLED, now, "cancelled while running")
                return True
            self._requeue(conn, job, now, 0.0, consume_attempt=False, detail=reason)
            return True

    def recover_worker(self, worker_id: str, reason: str) -> list[tuple[str, State]]:
        """The worker is gone: requeue its jobs that have retries left, fail the others."""
        now = time.time()
        outcomes: list[tuple[str, State]] = []
        with self.db.write() as conn:
            rows = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE worker = ? AND state = 'running'",
                                (worker_id,)).fetchall()
            for job in map(job_from_row, rows):
                if job.cancel_requested or job.attempt > job.retries:
                    state = State.CANCELLED if job.cancel_requested else State.FAILED
                    message = "cancelled while running" if job.cancel_requested else reason
                    end_job(conn, job.id, state, now, message)
                else:
                    state = State.PENDING
                    self._requeue(conn, job, now, 0.0, consume_attempt=True, detail=reason)
                outcomes.append((job.id, state))
            conn.execute("DELETE FROM workers WHERE id = ?", (worker_id,))
        return outcomes
