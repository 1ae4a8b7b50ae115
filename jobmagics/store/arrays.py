"""Job arrays in the database: an array's row, its elements, and reading them.

The throttle itself (at most ``parallel`` elements pending or running; the next waiting
element takes a slot as one leaves it) is the life-cycle's (``lifecycle.admit``): every state
change goes through it, whoever makes it.
"""
from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..arrays import ArrayRecord, ArraySpec, element_id
from ..errors import InvalidJob, InvalidTransition, JobNotFound, PermissionDenied
from ..model import RETRYABLE, JobRecord, JobSpec, State, format_job_id
from . import lifecycle
from .db import Database
from .rows import JOB_COLUMNS, job_from_row
from .schema import ARRAYS_VERSION, SchemaAware

_ARRAY_COLUMNS = "id, user, host, name, kind, backend, size, parallel, submitted_at"
_COUNTS_SQL = ("SELECT state, count(*) FROM jobs INDEXED BY jobs_array WHERE array_id = ?"
               " GROUP BY state")
# The array with its elements' counts and times, in one statement (so of one moment).
_ARRAY_SQL = (f"SELECT {_ARRAY_COLUMNS},"
              " (SELECT json_group_object(state, n) FROM (SELECT state, count(*) AS n"
              "  FROM jobs INDEXED BY jobs_array WHERE array_id = a.id GROUP BY state)),"
              " (SELECT min(started_at) FROM jobs WHERE array_id = a.id),"
              " (SELECT max(finished_at) FROM jobs WHERE array_id = a.id)"
              " FROM arrays a WHERE id = ?")
_ACTIVE_STATES = tuple(s.value for s in (State.WAITING, State.PENDING, State.RUNNING))


@dataclass
class ElementPlan:
    """Where a submission's elements go: their array, their indexes, and how many more of
    them may enter pending (None: no throttle)."""

    array_id: str
    indexes: list[int]
    room: int | None

    def element(self, position: int) -> tuple[str, tuple[str, int]]:
        index = self.indexes[position]
        return element_id(self.array_id, index), (self.array_id, index)

    def place(self, entry: lifecycle.Entry, position: int) -> None:
        """Make the entry the element at ``position``: waiting for a slot if the throttle
        has none left for it."""
        entry.element = self.element(position)[1]
        entry.detail += f" as element {entry.element[1]} of {self.array_id}"
        if entry.state is State.PENDING and self.room is not None:
            if self.room <= 0:
                entry.state = State.WAITING
                entry.detail += f" ({lifecycle.THROTTLED})"
            self.room -= 1


def plan_elements(conn: sqlite3.Connection, array: ArraySpec, specs: Sequence[JobSpec],
                  user: str, host: str, number: int | None, day: str, now: float) -> ElementPlan:
    """Create the array's row (or, with ``array.extend``, grow the caller's array) and say
    which ids and indexes its new elements take. ``number``: the counter value the new array
    took for its id."""
    if array.extend is not None:
        return _grow(conn, array.extend, len(specs), user)
    first = specs[0]
    array_id = format_job_id(day, number or 0)
    parallel = array.parallel
    conn.execute(f"INSERT INTO arrays({_ARRAY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (array_id, user, host, first.name, first.kind, first.backend, len(specs),
                  parallel, now))
    room = parallel if parallel is not None and first.backend == "local" else None
    return ElementPlan(array_id, list(array.indexes), room)


def _grow(conn: sqlite3.Connection, array_id: str, count: int, user: str) -> ElementPlan:
    row = conn.execute("SELECT user, size FROM arrays WHERE id = ?", (array_id,)).fetchone()
    if row is None:
        raise JobNotFound(array_id)
    if row[0] != user:
        raise PermissionDenied(f"{user} may not add jobs to {array_id}: it belongs to {row[0]}")
    last = conn.execute("SELECT max(array_index) FROM jobs INDEXED BY jobs_array_index"
                        " WHERE array_id = ?", (array_id,)).fetchone()[0]
    first = 0 if last is None else int(last) + 1      # after the last (1,5,7 grows from 8)
    conn.execute("UPDATE arrays SET size = ? WHERE id = ?", (int(row[1]) + count, array_id))
    return ElementPlan(array_id, list(range(first, first + count)),
                       lifecycle.array_room(conn, array_id))


def array_from_row(row: sqlite3.Row) -> ArrayRecord:
    """The record of a row of ``_ARRAY_SQL``."""
    record = ArrayRecord(id=row[0], user=row[1], host=row[2], name=row[3], kind=row[4],
                         backend=row[5], size=int(row[6]), parallel=row[7],
                         submitted_at=float(row[8]), counts=json.loads(row[9] or "{}"),
                         started_at=row[10])
    record.finished_at = row[11] if record.terminal else None
    return record


class ArraysMixin(SchemaAware):
    """Reading arrays and their elements; needs only ``self.db``."""

    db: Database

    def array(self, array_id: str) -> ArrayRecord:
        """The array, with its elements counted per state (one read: the same moment)."""
        if not self._schema_has(ARRAYS_VERSION):
            raise JobNotFound(array_id)
        rows = self.db.read(_ARRAY_SQL, (array_id,))
        if not rows:
            raise JobNotFound(array_id)
        return array_from_row(rows[0])

    def is_array(self, job_id: str) -> bool:
        if not self._schema_has(ARRAYS_VERSION):
            return False
        return bool(self.db.read("SELECT 1 FROM arrays WHERE id = ?", (job_id,)))

    def elements(self, array_id: str, *, states: Sequence[State] | None = None,
                 limit: int | None = None, offset: int = 0) -> list[JobRecord]:
        """The array's elements (of ``states``), by index."""
        if not self.is_array(array_id):
            raise JobNotFound(array_id)
        where, params = "array_id = ?", [array_id]
        if states:
            where += f" AND state IN ({', '.join('?' * len(states))})"
            params.extend(s.value for s in states)
        rows = self.db.read(f"SELECT {JOB_COLUMNS} FROM jobs INDEXED BY jobs_array_index"
                            f" WHERE {where} ORDER BY array_index LIMIT ? OFFSET ?",
                            (*params, -1 if limit is None else limit, offset))
        return [job_from_row(r) for r in rows]

    def arrays(self, *, user: str | None = None, active: bool = True,
               limit: int | None = 50) -> list[ArrayRecord]:
        """Arrays (of ``user``), newest first; ``active``: only those with an element that
        has not ended."""
        if not self._schema_has(ARRAYS_VERSION):
            return []
        clauses, params = [], []
        if user:
            clauses.append("user = ?")
            params.append(user)
        if active:
            clauses.append("EXISTS (SELECT 1 FROM jobs INDEXED BY jobs_array WHERE array_id ="
                           f" arrays.id AND state IN ({', '.join('?' * 3)}))")
            params.extend(_ACTIVE_STATES)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        ids = [r[0] for r in self.db.read(f"SELECT id FROM arrays {where} ORDER BY rowid DESC"
                                          " LIMIT ?", (*params, -1 if limit is None else limit))]
        return [self.array(array_id) for array_id in ids]

    def claim_elements(self, array_id: str, worker_id: str) -> list[JobRecord]:
        """Move every pending element of the array to running on ``worker_id`` (a backend
        that runs the whole array itself, such as SLURM's ``--array``, takes them at once)."""
        now = time.time()
        with self.db.write() as conn:
            rows = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs INDEXED BY jobs_array"
                                " WHERE array_id = ? AND state = ? ORDER BY array_index",
                                (array_id, State.PENDING.value)).fetchall()
            return [lifecycle.start(conn, job, worker_id, now) for job in map(job_from_row, rows)]


_SETTLE_FIRST = {State.WAITING: 0, State.PENDING: 1, State.RUNNING: 2}


@dataclass
class ElementsForMove:
    """An array's elements as a move sees them: those it applies to (waiting ones first, so a
    cancel or hold of the whole array never lets a waiting element take a slot that the same
    move is about to free), and all of them (whose owner the move must be allowed to touch)."""

    array_id: str
    applicable: list[JobRecord]
    every: list[JobRecord]

    def refusal(self, action: str) -> InvalidTransition:
        counts: dict[str, int] = {}
        for job in self.every:
            counts[job.state.value] = counts.get(job.state.value, 0) + 1
        described = ", ".join(f"{n} {state}" for state, n in counts.items()) or "no elements"
        return InvalidTransition(f"{self.array_id} has no element to {action} ({described})")


def array_elements_for(conn: sqlite3.Connection, array_id: str,
                       applies: Callable[[JobRecord], bool]) -> ElementsForMove | None:
    """The array's elements for a move (None: ``array_id`` is no array)."""
    if conn.execute("SELECT 1 FROM arrays WHERE id = ?", (array_id,)).fetchone() is None:
        return None
    rows = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs INDEXED BY jobs_array_index"
                        " WHERE array_id = ? ORDER BY array_index", (array_id,)).fetchall()
    every = [job_from_row(row) for row in rows]
    applicable = sorted((job for job in every if applies(job)),
                        key=lambda job: _SETTLE_FIRST.get(job.state, 3))
    return ElementsForMove(array_id, applicable, every)


def array_parent_state(conn: sqlite3.Connection, array_id: str) -> State | None:
    """What an array that a job runs after means for it: failed if an element ended without
    completing, completed if all did, else waiting; None if there is no such array."""
    if conn.execute("SELECT 1 FROM arrays WHERE id = ?", (array_id,)).fetchone() is None:
        return None
    counts = {r[0]: int(r[1]) for r in conn.execute(_COUNTS_SQL, (array_id,))}
    if any(counts.get(s.value) for s in RETRYABLE):
        return State.FAILED
    if set(counts) <= {State.COMPLETED.value}:
        return State.COMPLETED
    return State.WAITING


def check_element_count(specs: Sequence[JobSpec], array: ArraySpec) -> None:
    if array.extend is None:
        array.validate(len(specs))
    elif not specs:
        raise InvalidJob("add at least one element")
