"""What a SQLite error means for a queue, as one ``QueueError`` that says what to do."""
from __future__ import annotations

import sqlite3

from ..errors import DiskFull, QueueBusy, QueueError
from ..paths import QueueLayout, check_writable, disk_full, read_only_filesystem
from .integrity import damaged_error, mark_damaged

# SQLite's primary result codes (the sqlite3 module names them from Python 3.11 on only)
BUSY, LOCKED, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, NOTADB = 5, 6, 8, 10, 11, 13, 14, 26
_BY_MESSAGE = {"database is locked": BUSY, "attempt to write a readonly database": READONLY,
               "disk i/o error": IOERR, "database disk image is malformed": CORRUPT,
               "database or disk is full": FULL, "unable to open database file": CANTOPEN,
               "file is not a database": NOTADB}


def error_code(exc: sqlite3.Error) -> int:
    """The primary result code of a SQLite error (from its message before Python 3.11)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF
    text = str(exc).lower()
    return next((c for message, c in _BY_MESSAGE.items() if message in text), -1)


def unwritable_filesystem(layout: QueueLayout) -> bool:
    return read_only_filesystem(layout.root) or disk_full(layout.root)


def explain(exc: sqlite3.Error, layout: QueueLayout, busy_timeout: float, *,
            trusted: bool = True) -> QueueError:
    """``trusted``: the connection sees the file as SQLite wrote it (not a read-only snapshot
    read without locks), so a damaged page is recorded for every other process to see."""
    code = error_code(exc)
    text = str(exc)
    if code == FULL or (code == IOERR and disk_full(layout.root)):
        return DiskFull(f"queue {layout.root}: the disk holding the queue is full;"
                        f" nothing was changed ({text})")
    if code in (CORRUPT, NOTADB):
        if trusted and code == CORRUPT:
            mark_damaged(layout, text)
        return damaged_error(layout, text)
    if code in (BUSY, LOCKED):
        return QueueBusy(f"queue {layout.root}: the queue is busy, try again (another process held "
                         f"its write lock for over {busy_timeout:g} s; nothing was changed)")
    if code == READONLY or (code == CANTOPEN and read_only_filesystem(layout.root)):
        check_writable(layout)            # raises, naming the file and the fix
        return QueueError(f"queue {layout.root}: the queue files are read-only for you ({text})")
    if code == CANTOPEN:
        return QueueError(f"queue {layout.root}: the database file cannot be opened"
                          f" (permissions, or a missing folder) ({text})")
    return QueueError(f"queue {layout.root}: database error ({text})")
