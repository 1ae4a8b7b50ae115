"""One SQLite connection per process and thread, tuned for a shared queue folder."""
from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator

from ..errors import QueueBusy, QueueError
from ..paths import QueueLayout, fix_shared_file_modes, journal_mode_for, read_only_filesystem
from .schema import migrate

BUSY_TIMEOUT_S = 60.0
WAL_SIZE_LIMIT = 4 << 20


def _explain(exc: sqlite3.Error, layout: QueueLayout, busy_timeout: float = BUSY_TIMEOUT_S) -> QueueError:
    text = str(exc)
    if read_only_filesystem(layout.root) and ("readonly" in text or "read-only" in text or "unable to open" in text):
        hint = "the filesystem holding the queue is mounted read-only; nothing was changed"
    elif "locked" in text or "busy" in text:
        return QueueBusy(f"queue {layout.root}: the queue is busy, try again (another process held "
                         f"its write lock for over {busy_timeout:g} s; nothing was changed)")
    elif "readonly" in text or "read-only" in text:
        hint = "the queue files are read-only for you (check the folder's permissions)"
    elif "disk is full" in text or "full" in text:
        hint = "the disk holding the queue is full; nothing was changed"
    elif "malformed" in text or "not a database" in text:
        hint = "the queue database is damaged or is not a jobmagics queue"
    elif "unable to open" in text:
        hint = "the database file cannot be opened (permissions, or a missing folder)"
    else:
        hint = "database error"
    return QueueError(f"queue {layout.root}: {hint} ({text})")


class Database:
    """Owns the connections to ``jobs.db``; every write is one short ``BEGIN IMMEDIATE``."""

    def __init__(self, layout: QueueLayout, *, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self.layout = layout
        self.busy_timeout = busy_timeout     # shorter for a server that must answer "busy" soon
        self.journal = journal_mode_for(layout)
        self._local = threading.local()
        self._commits = 0            # our own commits: PRAGMA data_version only counts others'
        self._lock = threading.Lock()
        with self.write() as conn:
            migrate(conn)
        if layout.is_shared():
            with contextlib.suppress(OSError):
                fix_shared_file_modes(layout)

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = self._connect()
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.layout.db, timeout=self.busy_timeout, isolation_level=None,
                                   check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            current = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if current != self.journal:
                conn.execute(f"PRAGMA journal_mode = {self.journal}")
            conn.execute("PRAGMA synchronous = NORMAL" if self.journal == "wal" else "PRAGMA synchronous = FULL")
            # after a stray reader let the WAL grow, give the space back once it is checkpointed
            conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            conn.execute("PRAGMA foreign_keys = OFF")
            return conn
        except sqlite3.Error as exc:
            raise _explain(exc, self.layout, self.busy_timeout) from None

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A read-then-write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT`` (or rollback)."""
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _explain(exc, self.layout, self.busy_timeout) from None
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _explain(exc, self.layout, self.busy_timeout) from None
            raise
        with self._lock:
            self._commits += 1

    def read(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:  # type: ignore[type-arg]
        """One autocommit SELECT; never leaves a read transaction open (WAL would grow)."""
        conn = self.connection()
        try:
            cursor = conn.execute(sql, params)
            rows = cursor.fetchall()
            cursor.close()
            return rows
        except sqlite3.Error as exc:
            raise _explain(exc, self.layout, self.busy_timeout) from None

    def data_version(self) -> int:
        """Changes whenever any process (this one included) commits to the queue."""
        version = self.read("PRAGMA data_version")[0][0]
        return int(version) + self._commits

    def checkpoint(self) -> None:
        if self.journal == "wal":
            with contextlib.suppress(sqlite3.Error):
                self.connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
