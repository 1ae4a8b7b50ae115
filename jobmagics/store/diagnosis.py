"""What a SQLite error means for a queue, as one ``QueueError`` that says what to do."""
from __future__ import annotations

import sqlite3

from ..errors import DiskFull, QueueBusy, QueueError
from ..paths import QueueLayout, check_writable, disk_full, read_only_filesystem
from .integrity import damaged_error, mark_damaged

_DAMAGED = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def unwritable_filesystem(layout: QueueLayout) -> bool:
    return read_only_filesystem(layout.root) or disk_full(layout.root)


def explain(exc: sqlite3.Error, layout: QueueLayout, busy_timeout: float, *, trusted: bool = True) -> QueueError:
    """``trusted``: the connection sees the file as SQLite wrote it (not a read-only snapshot
    read without locks), so a damaged page is recorded for every other process to see."""
    code = getattr(exc, "sqlite_errorcode", -1) & 0xFF
    text = str(exc)
    if code == sqlite3.SQLITE_FULL or (code == sqlite3.SQLITE_IOERR and disk_full(layout.root)):
        return DiskFull(f"queue {layout.root}: the disk holding the queue is full; nothing was changed ({text})")
    if code in _DAMAGED:
        if trusted and code == sqlite3.SQLITE_CORRUPT:
            mark_damaged(layout, text)
        return damaged_error(layout, text)
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return QueueBusy(f"queue {layout.root}: the queue is busy, try again (another process held "
                         f"its write lock for over {busy_timeout:g} s; nothing was changed)")
    if code == sqlite3.SQLITE_READONLY or (code == sqlite3.SQLITE_CANTOPEN and read_only_filesystem(layout.root)):
        check_writable(layout)            # raises, naming the file and the fix
        return QueueError(f"queue {layout.root}: the queue files are read-only for you ({text})")
    if code == sqlite3.SQLITE_CANTOPEN:
        return QueueError(f"queue {layout.root}: the database file cannot be opened (permissions, or a"
                          f" missing folder) ({text})")
    return QueueError(f"queue {layout.root}: database error ({text})")
