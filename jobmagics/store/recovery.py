"""``jobmagics init --recover DIR [--from BACKUP]``: a new, sound ``jobs.db`` for a queue whose
database is missing, empty or damaged, that never reuses the id of a job that existed.

1. the old files (jobs.db and its -wal/-shm/-journal, and the copies workers saved when the
   file vanished under them) are moved into ``rescued/<time>/``: never deleted;
2. a new database is built beside the old one: the backup (if given), then every row SQLite
   can still read from the old files, job by job, skipping jobs the backup already has;
3. each day's id counter is set past every id found in the rows, in the id index and in the
   job files of logs/, data/, outputs/, results/ and configs/; today's also skips ``ID_GAP``
   numbers, for jobs that vanished without a trace (ids a user may have been shown);
4. the new file replaces jobs.db in one rename. Running jobs stay running on their workers:
   the next worker to start recovers them as for any lost worker (their processes are
   stopped first), so none runs twice.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import QueueError
from ..liveness import worker_alive
from ..model import format_job_id
from ..paths import JOB_FILE_RE, QueueLayout, fix_shared_file_modes, journal_mode_for
from ..runtime import LEASE_S
from .integrity import FileIdentity, Verdict, quick_check, write_verdict
from .rows import worker_from_row
from .salvage import Salvaged, copy_source
from .schema import SCHEMA_VERSION, migrate

ID_GAP = 1000
_SIDE_FILES = ("", "-wal", "-shm", "-journal")


@dataclass
class Recovery:
    """What ``recover`` did, for the one-screen report the CLI prints."""

    root: Path
    needed: str = ""                      # why: "missing", "empty", "damaged: ...", "" = sound
    kept_in: Path | None = None
    sources: list[Salvaged] = field(default_factory=list)
    jobs: int = 0
    running: int = 0
    next_id: str = ""


def diagnose(layout: QueueLayout) -> str:
    """"" when jobs.db is sound, else what is wrong with it."""
    found = FileIdentity.of(layout.db)
    if found is None:
        return "missing"
    if found.size == 0:
        return "empty (0 bytes)"
    try:
        conn = sqlite3.connect(f"{layout.db.as_uri()}?mode=ro", uri=True)
        try:
            ok, detail = quick_check(conn)
            if ok and conn.execute("PRAGMA user_version").fetchone()[0] == 0:
                return "empty (no tables)"
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        ok, detail = False, str(exc)
    if ok:
        write_verdict(layout, Verdict(True, "ok", FileIdentity.of(layout.db) or found))
    return "" if ok else f"damaged ({' '.join(detail.split())})"


def recover(layout: QueueLayout, backup: Path | None = None) -> Recovery:
    """Rebuild jobs.db (see the module's docstring); a sound one is left alone unless a
    backup is given. Raises ``QueueError`` if the backup is not a sound queue database."""
    report = Recovery(layout.root)
    with _exclusive(layout):
        report.needed = diagnose(layout)
        if not report.needed and backup is None:
            return report
        if backup is not None:
            _check_backup(backup)
        _refuse_while_workers_run(layout)
        report.kept_in = _set_aside(layout)
        building = layout.root / f"jobs.db.recovering-{os.getpid()}"
        try:
            _build(layout, building, backup, report)
            os.replace(building, layout.db)
        finally:
            with contextlib.suppress(OSError):
                building.unlink()
    if layout.is_shared():
        fix_shared_file_modes(layout)
    layout.write_marker()
    rebuilt = FileIdentity.of(layout.db)
    write_verdict(layout, Verdict(True, "ok (rebuilt by init --recover)", rebuilt))  # type: ignore[arg-type]
    return report


@contextlib.contextmanager
def _exclusive(layout: QueueLayout) -> Iterator[None]:
    """Two recoveries of one queue at once would each set the other's work aside."""
    layout.make_rescued()
    with open(layout.rescued / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _check_backup(backup: Path) -> None:
    try:
        conn = sqlite3.connect(f"{backup.absolute().as_uri()}?mode=ro", uri=True)
        try:
            ok, detail = quick_check(conn)
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in
                      conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise QueueError(f"--from {backup}: not a readable SQLite database ({exc})") from None
    if not ok:
        raise QueueError(f"--from {backup}: the backup is damaged too ({detail})")
    if "jobs" not in tables or not 0 < version <= SCHEMA_VERSION:
        raise QueueError(f"--from {backup}: not a jobmagics queue database this version can read")


def _refuse_while_workers_run(layout: QueueLayout) -> None:
    """A live worker still writes to the old file (or its own copy): recovering now would
    lose what it records; it stops by itself once it sees the file is gone or damaged."""
    now = time.time()
    for path in [layout.db, *layout.rescued.glob("orphaned-*.db")]:
        try:
            conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
            conn.row_factory = sqlite3.Row
            try:
                workers = [worker_from_row(r) for r in conn.execute("SELECT * FROM workers")]
            finally:
                conn.close()
        except sqlite3.DatabaseError:
            continue
        for worker in workers:
            if worker_alive(worker, now, LEASE_S):
                raise QueueError(f"worker {worker.id} (pid {worker.pid} on {worker.host}) still"
                                 f" serves the old database of {layout.root}: stop it first (it"
                                 " requeues its jobs and keeps its copy of the database in"
                                 " rescued/), then run this again")


def _set_aside(layout: QueueLayout) -> Path | None:
    """Move the old database files (and workers' rescued copies) into rescued/<time>/."""
    moving = [Path(f"{layout.db}{suffix}") for suffix in _SIDE_FILES]
    moving += sorted(layout.rescued.glob("orphaned-*.db"))
    moving = [p for p in moving if p.exists()]
    if not moving:
        return None
    folder = layout.rescued / time.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(exist_ok=True)
    for path in moving:
        os.replace(path, folder / path.name)
    return folder


def _build(layout: QueueLayout, building: Path, backup: Path | None, report: Recovery) -> None:
    conn = sqlite3.connect(building, isolation_level=None)
    try:
        if backup is not None:
            source = sqlite3.connect(f"{backup.absolute().as_uri()}?mode=ro", uri=True)
            with source:
                source.backup(conn)
            source.close()
        conn.execute("PRAGMA journal_mode = delete")
        conn.execute("BEGIN IMMEDIATE")
        migrate(conn)
        conn.row_factory = sqlite3.Row
        for path in _salvage_sources(report.kept_in):
            report.sources.append(_salvage(path, conn))
        known = set().union(*(s.ids for s in report.sources)) if report.sources else set()
        report.next_id = _seed_counters(conn, known | set(_ids_on_disk(layout)))
        report.jobs = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
        report.running = conn.execute(
            "SELECT count(*) FROM jobs WHERE state = 'running'").fetchone()[0]
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = wal" if _wants_wal(layout)
                     else "PRAGMA journal_mode = delete")
    finally:
        conn.close()


def _salvage_sources(folder: Path | None) -> list[Path]:
    if folder is None:
        return []
    orphaned = sorted(folder.glob("orphaned-*.db"), key=lambda p: p.stat().st_mtime, reverse=True)
    main = folder / "jobs.db"
    return ([main] if main.exists() and main.stat().st_size > 0 else []) + orphaned


def _salvage(path: Path, dst: sqlite3.Connection) -> Salvaged:
    report = Salvaged(str(path))
    try:
        src = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    except sqlite3.DatabaseError as exc:
        report.unreadable.append(f"the whole file ({exc})")
        return report
    src.row_factory = sqlite3.Row
    try:
        copy_source(src, dst, report)
    except sqlite3.DatabaseError as exc:          # not even the schema: nothing to read
        report.unreadable.append(f"the rest of the file ({exc})")
    finally:
        src.close()
    return report


def _ids_on_disk(layout: QueueLayout) -> Iterator[str]:
    yield from layout.job_ids_on_disk()
    if layout.rescued.exists():           # results of jobs set aside by an earlier recovery
        for path in layout.rescued.rglob("JOB-*"):
            match = JOB_FILE_RE.match(path.name)
            if match:
                yield match.group(1)


def _seed_counters(conn: sqlite3.Connection, seen: set[str]) -> str:
    """Each day's counter past its highest id anywhere; today's also past ``ID_GAP`` more."""
    highest: dict[str, int] = {}
    for job_id in seen | {r[0] for r in conn.execute("SELECT id FROM jobs")}:
        _, day, number = job_id.split("-")
        highest[day] = max(highest.get(day, 0), int(number.split("_")[0]))   # an element's array
    today = time.strftime("%Y%m%d")
    current = conn.execute("SELECT n FROM counters WHERE day = ?", (today,)).fetchone()
    highest[today] = max(highest.get(today, 0), current[0] if current else 0) + ID_GAP
    for day, number in highest.items():
        conn.execute("INSERT INTO counters(day, n) VALUES (?, ?) ON CONFLICT(day)"
                     " DO UPDATE SET n = max(n, excluded.n)", (day, number))
    return format_job_id(today, highest[today] + 1)


def _wants_wal(layout: QueueLayout) -> bool:
    return journal_mode_for(layout) == "wal"
