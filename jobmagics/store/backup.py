"""``jobmagics backup DEST``: a consistent copy of ``jobs.db`` while workers run.

SQLite's online backup API copies every page inside one read transaction: in WAL mode the
workers go on committing meanwhile (their commits are simply not in the copy), and the copy
is exactly the database as of one moment. It is written beside DEST and renamed into place,
so DEST is never a half-written file, then checked with ``PRAGMA quick_check``."""
from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import QueueError
from .db import Database
from .integrity import damaged_error, quick_check


@dataclass
class Backup:
    path: Path
    jobs: int
    size: int
    seconds: float


def backup(db: Database, dest: Path) -> Backup:
    """Copy the queue's database to ``dest`` (a file, or a folder to put a dated file in)."""
    target = dest / time.strftime("jobs-%Y%m%d-%H%M%S.db") if dest.is_dir() else dest
    if target.exists() and target.resolve() == db.layout.db.resolve():
        raise QueueError(f"backup {dest}: that is the queue's own database;"
                         " give another file or folder")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    started = time.monotonic()
    try:
        copy = sqlite3.connect(partial)
    except sqlite3.Error as exc:
        raise QueueError(f"backup {dest}: cannot write {partial.parent} ({exc})") from None
    try:
        db.guard.current()                    # the file we have open is still jobs.db
        db.connection().backup(copy)          # all pages in one go: one consistent snapshot
        copy.execute("PRAGMA journal_mode = delete")   # a single self-contained file
        ok, detail = quick_check(copy)
        jobs = int(copy.execute("SELECT count(*) FROM jobs").fetchone()[0]) if ok else 0
        copy.close()
        if not ok:
            raise damaged_error(db.layout, detail)
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise QueueError(f"backup {dest}: {exc}") from None
    finally:
        copy.close()
        with contextlib.suppress(OSError):
            partial.unlink()
    return Backup(target, jobs, target.stat().st_size, time.monotonic() - started)


def save_orphan(db: Database, worker_id: str) -> Path:
    """A worker's copy of the database it still has open after jobs.db was deleted or
    replaced: ``rescued/orphaned-<worker>.db``, replaced by each later save of that worker."""
    db.layout.make_rescued()
    name = "".join(c if c.isalnum() or c in "-_." else "-" for c in worker_id)
    target = db.layout.rescued / f"orphaned-{name}.db"
    partial = target.with_name(f".{target.name}.partial")
    try:
        copy = sqlite3.connect(partial)
        try:
            db.connection().backup(copy)
            copy.execute("PRAGMA journal_mode = delete")
        finally:
            copy.close()
        os.replace(partial, target)
    except sqlite3.Error as exc:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise QueueError(f"cannot save {target}: {exc}") from None
    return target
