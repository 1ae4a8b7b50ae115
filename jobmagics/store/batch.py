"""What a worker that submits to a batch system (SLURM) asks of the queue beyond a claim:
taking the waiting children of the jobs it just submitted, so that the batch system itself
holds each until its parents completed (``--dependency=afterok:``) and a chain of jobs never
waits on the queue's host between its links.

A child is taken only when everything it runs after is either completed or waits in the
same batch system under an id the child can name, on its last attempt: a parent that fails
then ends failed for good, and the child's cancel (its dependency can never be satisfied) is
what the queue would have done to it anyway. The steps (waiting -> pending -> running) are
the life-cycle's.

Only a worker asks this (never through a system queue's service), so ``Store`` need not have
it: the worker's batch executors use ``kernel_worker.executors.batch_executor.BatchStore``."""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass

from ..model import JobRecord, State
from . import lifecycle
from .db import Database
from .rows import JOB_COLUMNS, job_from_row
from .schema import SchemaAware

_COLUMNS = ", ".join(f"j.{column}" for column in JOB_COLUMNS.split(", "))
_JOBS_SQL = f"SELECT {JOB_COLUMNS} FROM jobs WHERE id IN (SELECT value FROM json_each(?))"
# The waiting children of some jobs, or of the arrays those jobs are elements of.
_CHILDREN_SQL = (f"SELECT {JOB_COLUMNS} FROM jobs WHERE id IN (SELECT child FROM deps"
                 " WHERE parent IN (SELECT value FROM json_each(:parents)))"
                 " AND state = :waiting AND held = 0 AND backend = :backend"
                 " AND resources = '[]' ORDER BY seq")
# What one child runs after: each parent job, or each element of a parent array (the last
# column says which).
_PARENTS_SQL = (f"SELECT {_COLUMNS}, 0 FROM deps d JOIN jobs j ON j.id = d.parent"
                " WHERE d.child = :child"
                f" UNION ALL SELECT {_COLUMNS}, 1 FROM deps d JOIN jobs j ON j.array_id = d.parent"
                " WHERE d.child = :child")


@dataclass(frozen=True)
class ChainLink:
    """A child taken to run after parents that wait in a batch system: the child (running
    on the worker now) and what it runs after there: (backend id, whether that parent is an
    element standing for its whole array)."""

    job: JobRecord
    after: tuple[tuple[str, bool], ...]


class BatchMixin(SchemaAware):
    """Chains on a batch system; needs only ``self.db``."""

    db: Database

    def claim_chained(self, worker_id: str, backend: str,
                      submitted: Mapping[str, str]) -> list[ChainLink]:
        """Move to running on ``worker_id`` the waiting ``backend`` children of the jobs just
        submitted (``submitted``: job id -> its id in the batch system), of the same user,
        whose parents all completed or wait in that system on their last attempt."""
        if not submitted:
            return []
        now = time.time()
        with self.db.write() as conn:
            if conn.execute("SELECT value FROM settings WHERE key = 'paused'").fetchone()[0] == "1":
                return []
            rows = conn.execute(_JOBS_SQL, (json.dumps(list(submitted)),)).fetchall()
            parents = {job.id: job for job in map(job_from_row, rows)}
            arrays = {p.array_id for p in parents.values() if p.array_id is not None}
            users = {p.user for p in parents.values()}
            rows = conn.execute(_CHILDREN_SQL, {
                "parents": json.dumps([*parents, *arrays]), "waiting": State.WAITING.value,
                "backend": backend}).fetchall()
            links = []
            for child in map(job_from_row, rows):
                after = _after(conn, child, backend, submitted)
                if child.user not in users or after is None:
                    continue
                pending = lifecycle.move(conn, child, State.PENDING, now,
                                         f"its parents wait in {backend}: it waits there too")
                links.append(ChainLink(lifecycle.start(conn, pending, worker_id, now), after))
            return links


def _after(conn: sqlite3.Connection, child: JobRecord, backend: str,
           submitted: Mapping[str, str]) -> tuple[tuple[str, bool], ...] | None:
    """What the child would run after in the batch system, or None if one of its parents
    neither completed nor waits there (on its last attempt, under an id known now)."""
    after: list[tuple[str, bool]] = []
    for row in conn.execute(_PARENTS_SQL, {"child": child.id}).fetchall():
        parent = job_from_row(row)          # its last column (whole array?) is left out
        if parent.state is State.COMPLETED:
            continue
        backend_id = submitted.get(parent.id) or parent.backend_id
        waits_there = (parent.state is State.RUNNING and parent.backend == backend
                       and parent.attempt > parent.retries)
        if backend_id is None or not waits_there:
            return None
        after.append((backend_id, bool(row[-1])))
    return tuple(after) if after else None
