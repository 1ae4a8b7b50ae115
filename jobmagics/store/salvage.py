"""Copy what SQLite can still read from a damaged queue database into a sound one.

Rows are read in rowid order, 500 at a time. When a read runs into a damaged page the
reader probes further on (1, 2, 4, ... rowids ahead, then back by bisection) for the first
rowid it can read again: only the rows on the damaged pages are lost, and their count is
reported as a range of rowids that could not be read."""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..model import JOB_ID_RE

BATCH = 500
_NO_ROWID_SINCE = -(1 << 63)
# table -> the columns that identify a row; jobs and events get special treatment below
_TABLES = ("payloads", "results", "workers", "resources", "settings", "counters", "arrays")


@dataclass
class Salvaged:
    """What one source gave: rows copied per table and rowid ranges that could not be read."""

    source: str
    copied: dict[str, int] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)           # job ids the source knew of

    def add(self, table: str, n: int) -> None:
        self.copied[table] = self.copied.get(table, 0) + n

    def lost(self, table: str, after: int, resume: int | None) -> None:
        """Rows with rowids in (after, resume) could not be read; adjacent gaps are merged."""
        start = "the start" if after == _NO_ROWID_SINCE else str(after + 1)
        end = "the end" if resume is None else str(resume)
        previous = self.unreadable[-1] if self.unreadable else ""
        if previous.startswith(f"{table} rows ") and previous.endswith(f" to {after}"):
            self.unreadable[-1] = previous.rsplit(" to ", 1)[0] + f" to {end}"
        else:
            self.unreadable.append(f"{table} rows {start} to {end}")


def readable_rows(src: sqlite3.Connection, table: str, report: Salvaged) -> Iterator[sqlite3.Row]:
    """Every row of ``table`` SQLite can read, in rowid order, stepping over damaged pages:
    batches while they read, single rows near a damaged page, a probe to get past it."""
    after, batch, singles = _NO_ROWID_SINCE, BATCH, 0
    while True:
        try:
            rows = src.execute(f"SELECT rowid AS _rowid, * FROM {table} WHERE rowid > ?"
                               f" ORDER BY rowid LIMIT {batch}", (after,)).fetchall()
        except sqlite3.DatabaseError:
            if batch > 1:
                batch, singles = 1, 0      # read up to the damaged page row by row
                continue
            resume = _next_readable(src, table, after)
            report.lost(table, after, resume)
            if resume is None:
                return
            after, batch = resume, BATCH
            continue
        if not rows:
            return
        yield from rows
        after = rows[-1]["_rowid"]
        singles += 1
        if batch == 1 and singles >= 64:     # well past the damage: batches again
            batch = BATCH


def _readable_from(src: sqlite3.Connection, table: str, bound: int) -> bool:
    try:
        src.execute(f"SELECT rowid FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT 1",
                    (bound,)).fetchall()
        return True
    except sqlite3.DatabaseError:
        return False


def _next_readable(src: sqlite3.Connection, table: str, failed: int) -> int | None:
    """The smallest bound past ``failed`` from which the table reads again (None: never)."""
    start = max(failed, 0)
    step = 1
    while not _readable_from(src, table, start + step):
        step *= 2
        if start + step > (1 << 62):
            return None
    low, high = start + step // 2, start + step           # low fails (or is start), high reads
    while high - low > 1:
        middle = (low + high) // 2
        if _readable_from(src, table, middle):
            high = middle
        else:
            low = middle
    return high


def copy_source(src: sqlite3.Connection, dst: sqlite3.Connection, report: Salvaged) -> None:
    """Copy jobs (with their events, payloads, results and dependencies) the destination does
    not have yet, then the small tables."""
    columns = [r[1] for r in dst.execute("PRAGMA table_info(jobs)")]
    new_jobs: set[str] = set()
    for row in readable_rows(src, "jobs", report):
        report.ids.add(row["id"])
        if _insert_job(dst, row, columns):
            new_jobs.add(row["id"])
            report.add("jobs", 1)
            for parent in json.loads(row["after"] or "[]"):
                dst.execute("INSERT OR IGNORE INTO deps(child, parent) VALUES (?, ?)",
                            (row["id"], parent))
    for row in readable_rows(src, "events", report):
        report.ids.add(row["job_id"])
        if row["job_id"] in new_jobs:
            dst.execute("INSERT INTO events(job_id, at, state, detail) VALUES (?, ?, ?, ?)",
                        (row["job_id"], row["at"], row["state"], row["detail"]))
            report.add("events", 1)
    try:
        present = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError:
        present = set(_TABLES)     # try each: what cannot be read is reported as lost
    for table in _TABLES:
        if table in present:       # an older queue has no arrays table
            _copy_small_table(src, dst, table, report)
    report.ids |= ids_from_index(src)


def _insert_job(dst: sqlite3.Connection, row: sqlite3.Row, columns: list[str]) -> bool:
    """Keep the row's place (seq) if it is free; a job the destination has is left as it is."""
    names = set(row.keys())
    present = [c for c in columns if c in names]
    before = dst.total_changes
    placeholders = ", ".join("?" * len(present))
    dst.execute(f"INSERT OR IGNORE INTO jobs({', '.join(present)}) VALUES ({placeholders})",
                [row[c] for c in present])
    if dst.total_changes > before:
        return True
    if dst.execute("SELECT 1 FROM jobs WHERE id = ?", (row["id"],)).fetchone():
        return False
    present.remove("seq")                  # the backup put another job in this place
    dst.execute(f"INSERT INTO jobs({', '.join(present)}) VALUES ({', '.join('?' * len(present))})",
                [row[c] for c in present])
    return True


def _copy_small_table(src: sqlite3.Connection, dst: sqlite3.Connection, table: str,
                      report: Salvaged) -> None:
    columns = [r[1] for r in dst.execute(f"PRAGMA table_info({table})")]
    verb = "INSERT OR REPLACE" if table in ("resources", "settings") else "INSERT OR IGNORE"
    for row in readable_rows(src, table, report):
        names = set(row.keys())
        present = [c for c in columns if c in names]
        if table == "counters":
            dst.execute("INSERT INTO counters(day, n) VALUES (?, ?) ON CONFLICT(day)"
                        " DO UPDATE SET n = max(n, excluded.n)", (row["day"], row["n"]))
        else:
            placeholders = ", ".join("?" * len(present))
            dst.execute(f"{verb} INTO {table}({', '.join(present)}) VALUES ({placeholders})",
                        [row[c] for c in present])
        report.add(table, 1)


def ids_from_index(src: sqlite3.Connection) -> set[str]:
    """Job ids from the ``id`` index alone (it may be sound where the table's pages are not)."""
    try:
        return {r[0] for r in src.execute("SELECT id FROM jobs ORDER BY id")
                if JOB_ID_RE.match(r[0] or "")}
    except sqlite3.DatabaseError:
        return set()
