"""Retention: which finished jobs a prune removes (never one another job still depends on),
removing their rows, then their files, and giving the space back to the disk; and where a
queue's space goes (``du``).

A prune reads its candidates (oldest first) outside any transaction, then takes them in
batches of ``BATCH_JOBS``, each one short write transaction that checks them again (a job
retried meanwhile stays), keeps what must stay and deletes the rest's rows, so workers
wait at most one batch. Files go after every row is gone, outside transactions: a prune cut
short between the two leaves files of jobs with no row, which the next prune of everyone's
jobs removes (it never removes a file of a job that still has a row)."""
from __future__ import annotations

import contextlib
import json
import pwd
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidJob
from ..model import ACTIVE, State
from ..paths import QueueLayout
from ..retention_model import NO_JOB, PruneReport, SpaceReport, SpaceRow, check_space_by
from . import retention_files
from .db import Database
from .diagnosis import BUSY, LOCKED, error_code
from .retention_files import JobFile
from .schema import DAY_TO_DAY_VERSION, SchemaAware

BATCH_JOBS = 1000               # jobs per transaction: a worker waits for one batch at most
FILE_CHUNK = 10_000             # files looked up per query
VACUUM_STEP_PAGES = 4096        # pages given back per transaction (16 MB of 4 KB pages)
SHORT_WAIT_MS = 2000            # how long VACUUM and the WAL's truncation wait for others
LAST_RUN_KEY = "retention.last_run"
LAST_RESULT_KEY = "retention.last_result"
AUTO_VACUUM = {0: "none", 1: "full", 2: "incremental"}

_IDS = "(SELECT value FROM json_each(:ids))"
# A job a prune may take: in one of the states asked, ended before the cut, of the user asked.
_ELIGIBLE = ("state IN (SELECT value FROM json_each(:states))"
             " AND ifnull(finished_at, submitted_at) < :cut AND (:user IS NULL OR user = :user)")
# Oldest first along the table itself (NOT INDEXED: by jobs_state, every batch would gather and
# sort all the candidates left to take only the first 1,000 of them: quadratic).
_CANDIDATES_SQL = ("SELECT seq, id, array_id FROM jobs NOT INDEXED"
                   f" WHERE seq > :after AND {_ELIGIBLE} ORDER BY seq LIMIT :limit")
_STILL_ELIGIBLE_SQL = f"SELECT id FROM jobs WHERE id IN {_IDS} AND {_ELIGIBLE}"
_ACTIVE_DEPENDANTS_SQL = ("SELECT DISTINCT d.parent FROM deps d JOIN jobs c ON c.id = d.child"
                          f" WHERE d.parent IN {_IDS} AND c.state IN"
                          " (SELECT value FROM json_each(:active))")
_UNSENT_SQL = (f"SELECT DISTINCT job_id FROM outbox WHERE job_id IN {_IDS}"
               " AND sent_at IS NULL AND failed_at IS NULL")
_ARRAY_BLOCKERS_SQL = f"SELECT count(*) FROM jobs WHERE array_id = :array AND NOT ({_ELIGIBLE})"
# A job's rows: itself (state_counts follows through its triggers), its history, payload,
# result, the links to its parents and its notifications.
_ROWS_OF_A_JOB = (("jobs", "id"), ("events", "job_id"), ("payloads", "job_id"),
                  ("results", "job_id"), ("deps", "child"))
_ACTIVE_STATES = json.dumps([s.value for s in ACTIVE])


@dataclass
class _Criteria:
    states: str                 # JSON list of state names
    cut: float
    user: str | None

    def params(self, **more: Any) -> dict[str, Any]:
        return {"states": self.states, "cut": self.cut, "user": self.user, **more}


@dataclass
class _Choice:
    """One batch's decision: the jobs (and whole arrays) to remove, and what stays, why."""

    jobs: list[str] = field(default_factory=list)
    arrays: list[str] = field(default_factory=list)
    kept_parents: int = 0
    kept_arrays: int = 0
    kept_unsent: int = 0


class RetentionMixin(SchemaAware):
    """``prune``, ``du`` and the daily turn of the workers' retention chore."""

    db: Database
    layout: QueueLayout

    # ---- prune ------------------------------------------------------------------------
    def prune(self, *, cut: float, states: Sequence[State], user: str | None = None,
              keep_data: bool = True, dry_run: bool = False) -> PruneReport:
        """Remove the finished jobs in ``states`` of ``user`` (None: everyone's) that ended
        before ``cut``, with their rows and files (``keep_data``: not ``data/``); ``dry_run``
        changes nothing and reports the same. See the module's docstring for the order."""
        started = time.monotonic()
        report = PruneReport(dry_run, cut, user, [State(s).value for s in states], keep_data)
        if user is not None:
            self._check_known_user(user)
        criteria = _Criteria(json.dumps(report.states), cut, user)
        pages_before, report.db_before = self._pages(), self._db_size()
        pruned = self._prune_rows(criteria, report)
        self._prune_files(report, pruned, sweep=user is None)
        if not dry_run and (report.jobs or report.files):
            report.vacuum = self._shrink()
            report.pages_freed = max(0, pages_before - self._pages())
        report.db_after = self._db_size()
        report.seconds = time.monotonic() - started
        return report

    def _check_known_user(self, user: str) -> None:
        """A name the queue has seen, or an account of this machine (a typo is neither)."""
        if self.db.read("SELECT 1 FROM state_counts WHERE user = ? LIMIT 1", (user,)):
            return
        try:
            pwd.getpwnam(user)
        except KeyError:
            raise InvalidJob(f"unknown user {user!r}: no account of that name, and this queue"
                             " never had a job of theirs") from None

    def _prune_rows(self, criteria: _Criteria, report: PruneReport) -> set[str]:
        """The batches of rows; returns the ids of the jobs removed (or that would be)."""
        pruned: set[str] = set()
        arrays: dict[str, bool] = {}            # decided already: removed whole, or kept
        after = 0
        while True:
            rows = self.db.read(_CANDIDATES_SQL, criteria.params(after=after, limit=BATCH_JOBS))
            if not rows:
                return pruned
            after = int(rows[-1]["seq"])
            began = time.monotonic()
            with self._batch(report.dry_run) as conn:
                choice = self._choose(conn, rows, criteria, arrays)
                if not report.dry_run:
                    self._delete(conn, choice)
            report.longest_batch_s = max(report.longest_batch_s, time.monotonic() - began)
            pruned.update(choice.jobs)
            report.jobs += len(choice.jobs)
            report.arrays += len(choice.arrays)
            report.kept_parents += choice.kept_parents
            report.kept_arrays += choice.kept_arrays
            report.kept_unsent += choice.kept_unsent

    @contextlib.contextmanager
    def _batch(self, dry_run: bool) -> Iterator[sqlite3.Connection]:
        """A write transaction; for a dry run a read one (the same view, nothing written)."""
        if not dry_run:
            with self.db.write() as conn:
                yield conn
            return
        conn = self.db.connection()
        self.db.guard.check()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("ROLLBACK")

    def _choose(self, conn: sqlite3.Connection, rows: Sequence[sqlite3.Row],
                criteria: _Criteria, arrays: dict[str, bool]) -> _Choice:
        choice = _Choice()
        singles = [str(r["id"]) for r in rows if r["array_id"] is None]
        still = _query_ids(conn, _STILL_ELIGIBLE_SQL, singles, criteria.params())
        held = _active_dependants(conn, still)
        unsent = self._unsent(conn, still - held)
        choice.jobs = [i for i in singles if i in still and i not in held and i not in unsent]
        choice.kept_parents, choice.kept_unsent = len(held), len(unsent)
        for array_id in dict.fromkeys(str(r["array_id"]) for r in rows if r["array_id"]):
            if array_id not in arrays:
                arrays[array_id] = self._choose_array(conn, array_id, criteria, choice)
        return choice

    def _choose_array(self, conn: sqlite3.Connection, array_id: str, criteria: _Criteria,
                      choice: _Choice) -> bool:
        """An array goes whole or not at all: every element may go, and nothing still
        waiting or running comes after it (or after one of its elements)."""
        blockers = conn.execute(_ARRAY_BLOCKERS_SQL, criteria.params(array=array_id))
        if blockers.fetchone()[0]:
            choice.kept_arrays += 1
            return False
        elements = [str(r[0]) for r in
                    conn.execute("SELECT id FROM jobs WHERE array_id = ?", (array_id,))]
        if _active_dependants(conn, {array_id, *elements}):
            choice.kept_parents += 1
            return False
        if self._unsent(conn, set(elements)):
            choice.kept_unsent += 1
            return False
        choice.jobs += elements
        choice.arrays.append(array_id)
        return True

    def _unsent(self, conn: sqlite3.Connection, ids: set[str]) -> set[str]:
        """Jobs whose notifications are not sent yet: the sender needs their rows."""
        if not ids or not self._schema_has(DAY_TO_DAY_VERSION):
            return set()
        return _query_ids(conn, _UNSENT_SQL, ids)

    def _delete(self, conn: sqlite3.Connection, choice: _Choice) -> None:
        ids = json.dumps(choice.jobs)
        tables = list(_ROWS_OF_A_JOB)
        if self._schema_has(DAY_TO_DAY_VERSION):
            tables.append(("outbox", "job_id"))
        for table, column in tables:
            conn.execute(f"DELETE FROM {table} WHERE {column} IN {_IDS}", {"ids": ids})
        if choice.arrays:
            conn.execute(f"DELETE FROM arrays WHERE id IN {_IDS}",
                         {"ids": json.dumps(choice.arrays)})

    # ---- files ------------------------------------------------------------------------
    def _prune_files(self, report: PruneReport, pruned: set[str], *, sweep: bool) -> None:
        """The files of the jobs pruned; with ``sweep`` (a prune of everyone's jobs) also
        those older than the cut whose job has no row (a prune cut short left them)."""
        for chunk in _chunks(retention_files.job_files(self.layout), FILE_CHUNK):
            others = {f.job_id for f in chunk if f.job_id not in pruned}
            orphans = self._ids_without_rows(others) if sweep and others else set()
            for file in chunk:
                orphan = file.job_id in orphans and file.mtime < report.cut
                if file.job_id not in pruned and not orphan:
                    continue
                if file.kind == "data" and report.keep_data:
                    report.data_kept += not orphan       # (kept by an earlier prune: silent)
                elif report.dry_run or retention_files.remove(file):
                    report.files += 1
                    report.bytes += file.size
                    report.orphan_files += orphan

    def _ids_without_rows(self, ids: set[str]) -> set[str]:
        found = self.db.read(f"SELECT id FROM jobs WHERE id IN {_IDS}"
                             f" UNION SELECT id FROM arrays WHERE id IN {_IDS}",
                             {"ids": json.dumps(sorted(ids))})
        return ids - {str(r[0]) for r in found}

    # ---- giving the space back ---------------------------------------------------------
    def _shrink(self) -> str:
        """Free pages back to the disk: an incremental vacuum (a queue made before that was
        the default is converted once, by a VACUUM), then the WAL truncated."""
        mode = self._pragma("auto_vacuum")
        if mode == 0:
            note = self._convert_to_incremental()
        elif mode == 2:
            note = self._incremental_vacuum()
        else:
            note = "the database gives space back by itself (auto_vacuum full)"
        return note + self._truncate_wal()

    def _incremental_vacuum(self) -> str:
        """Python's sqlite3 steps a statement without result columns once, and each step of
        ``incremental_vacuum`` gives back one page: one call per page (about 30 us each),
        ``VACUUM_STEP_PAGES`` per transaction."""
        freed = 0
        while True:
            with self.db.write() as conn:
                free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
                for _ in range(min(free, VACUUM_STEP_PAGES)):
                    conn.execute("PRAGMA incremental_vacuum(1)")
                left = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
            freed += free - left
            if not left or left >= free:
                return f"incremental vacuum: {freed:,} pages given back"

    def _convert_to_incremental(self) -> str:
        """``auto_vacuum`` changes from none only by a VACUUM, which rewrites the file and
        needs it to itself for a moment: if another process writes, skip and say so."""
        conn = self.db.connection()
        self.db.guard.before_write(conn)
        before = self.db.guard.current()
        try:
            with _short_wait(conn, self.db.busy_timeout):
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
                conn.execute("VACUUM")
        except sqlite3.OperationalError as exc:
            if error_code(exc) not in (BUSY, LOCKED):
                raise
            return ("the database was not converted to incremental vacuum: that takes a VACUUM,"
                    " which needs the database to itself for a moment, and another process was"
                    " writing; the next prune tries again")
        self.db.guard.after_write(before)
        return ("the database was converted to incremental vacuum (a one-time VACUUM, which had"
                " the database to itself for a moment); later prunes give space back at once")

    def _truncate_wal(self) -> str:
        if self.db.journal != "wal":
            return ""
        conn = self.db.connection()
        before = self.db.guard.current()
        try:
            with _short_wait(conn, self.db.busy_timeout):
                busy = int(conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if error_code(exc) not in (BUSY, LOCKED):
                raise
            busy = 1
        self.db.guard.after_write(before)
        return ("; the WAL file is not truncated yet: another process was reading (a later"
                " checkpoint does it)") if busy else ""

    def _pragma(self, name: str) -> int:
        return int(self.db.read(f"PRAGMA {name}")[0][0])

    def _pages(self) -> int:
        return self._pragma("page_count")

    def _db_size(self) -> int:
        total = 0
        for path in self.layout.database_files[:2]:            # jobs.db and its WAL
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total

    # ---- du ---------------------------------------------------------------------------
    def du(self, by: str = "user") -> SpaceReport:
        """Jobs and the bytes of their files per user (or state); the database's size and
        free pages. Files are found by one listing of each folder and one ``stat`` each."""
        started = time.monotonic()
        report = SpaceReport(check_space_by(by))
        rows: dict[str, SpaceRow] = {}
        for row in self.db.read("SELECT user, state, n FROM state_counts WHERE n > 0"):
            key = str(row[by])
            rows.setdefault(key, SpaceRow(key)).jobs += int(row["n"])
        for chunk in _chunks(retention_files.job_files(self.layout), FILE_CHUNK):
            keys = self._keys_of({f.job_id for f in chunk}, by)
            for file in chunk:
                key = keys.get(file.job_id, NO_JOB)
                space = rows.setdefault(key, SpaceRow(key))
                setattr(space, file.kind, getattr(space, file.kind) + file.size)
        report.rows = sorted(rows.values(), key=lambda r: (r.key == NO_JOB, -r.total, r.key))
        self._database_space(report)
        report.seconds = time.monotonic() - started
        return report

    def _keys_of(self, ids: set[str], by: str) -> dict[str, str]:
        column = {"user": "user", "state": "state"}[by]
        found = self.db.read(f"SELECT id, {column} FROM jobs WHERE id IN {_IDS}",
                             {"ids": json.dumps(sorted(ids))})
        return {str(r[0]): str(r[1]) for r in found}

    def _database_space(self, report: SpaceReport) -> None:
        db, wal = self.layout.database_files[:2]
        with contextlib.suppress(OSError):
            report.db_bytes = db.stat().st_size
        with contextlib.suppress(OSError):
            report.wal_bytes = wal.stat().st_size
        report.page_size, report.pages = self._pragma("page_size"), self._pages()
        report.free_pages = self._pragma("freelist_count")
        report.auto_vacuum = AUTO_VACUUM.get(self._pragma("auto_vacuum"), "none")

    # ---- the workers' daily prune -------------------------------------------------------
    def take_retention_turn(self, now: float, period: float) -> bool:
        """Is it this caller's turn to apply the queue's retention? Yes at most once per
        ``period`` among all workers: the time of the last turn is taken in one transaction."""
        with self.db.write() as conn:
            row = conn.execute("SELECT value FROM settings WHERE key = ?",
                               (LAST_RUN_KEY,)).fetchone()
            last = float(json.loads(row[0])) if row else 0.0
            if 0 <= now - last < period:
                return False
            conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)",
                         (LAST_RUN_KEY, json.dumps(now)))
            return True

    def last_retention_turn(self) -> float | None:
        rows = self.db.read("SELECT value FROM settings WHERE key = ?", (LAST_RUN_KEY,))
        return float(json.loads(rows[0][0])) if rows else None


def _query_ids(conn: sqlite3.Connection, sql: str, ids: Iterable[str],
               params: dict[str, Any] | None = None) -> set[str]:
    listed = sorted(ids)
    if not listed:
        return set()
    rows = conn.execute(sql, {**(params or {}), "ids": json.dumps(listed)})
    return {str(r[0]) for r in rows}


def _active_dependants(conn: sqlite3.Connection, ids: set[str]) -> set[str]:
    """Which of ``ids`` a job still waiting, pending or running comes after."""
    return _query_ids(conn, _ACTIVE_DEPENDANTS_SQL, ids, {"active": _ACTIVE_STATES})


def _chunks(files: Iterator[JobFile], size: int) -> Iterator[list[JobFile]]:
    chunk: list[JobFile] = []
    for file in files:
        chunk.append(file)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextlib.contextmanager
def _short_wait(conn: sqlite3.Connection, usual_s: float) -> Iterator[None]:
    """Wait at most ``SHORT_WAIT_MS`` for other processes' locks, then the usual again."""
    conn.execute(f"PRAGMA busy_timeout = {SHORT_WAIT_MS}")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(usual_s * 1000)}")
