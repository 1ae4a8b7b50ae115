"""One SQLite connection per process and thread, tuned for a shared queue folder.

Opening never writes when the schema is current (a read-only or full filesystem still
answers reads), never creates ``jobs.db`` in a folder that has held jobs, and every later use
checks the file is still the one opened (see ``integrity.FileGuard``)."""
from __future__ import annotations

import atexit
import contextlib
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator

from ..errors import DatabaseMissing, DatabaseReplaced, DiskFull, QueueError
from ..paths import (
    QueueLayout,
    check_writable,
    fix_private_file_modes,
    fix_shared_file_modes,
    journal_mode_for,
    read_only_filesystem,
)
from .diagnosis import BUSY, CORRUPT, LOCKED, NOTADB, error_code, explain, unwritable_filesystem
from .integrity import FileGuard, FileIdentity, recover_hint
from .schema import SCHEMA_VERSION, migrate

BUSY_TIMEOUT_S = 60.0
WAL_SIZE_LIMIT = 4 << 20
CHECKPOINT_COMMITS, CHECKPOINT_ROWS = 64, 1000    # (SQLite's own: every 1000 pages of WAL)
_OPEN = weakref.WeakSet()         # type: ignore[var-annotated]  # closed at exit: see close()


class Database:
    """Owns the connections to ``jobs.db``; every write is one short ``BEGIN IMMEDIATE``."""

    def __init__(self, layout: QueueLayout, *, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self.layout = layout
        self.busy_timeout = busy_timeout     # shorter for a server that must answer "busy" soon
        self.journal = journal_mode_for(layout)
        self.read_only = False               # connected read-only: filesystem read-only or full
        self._local = threading.local()
        self._commits = 0            # our own commits: PRAGMA data_version only counts others'
        self._lock = threading.Lock()
        self._version_lock = threading.Lock()
        self._version_conn: tuple[sqlite3.Connection | None, int] = (None, 0)
        self._writable_checked = False
        self._schema_current = False         # known to be SCHEMA_VERSION (checked by writes)
        self._wal_active = False             # known once the journal mode is set
        self._unsaved = (0, 0)               # commits and rows since our last checkpoint
        # set by a long-lived writer that checkpoints from its own thread (the service): a due
        # checkpoint sets it instead of running in the committing request's time
        self.checkpoint_due: threading.Event | None = None
        self.guard = self._open()
        _OPEN.add(self)

    # ---- opening ----------------------------------------------------------------------
    def _open(self) -> FileGuard:
        found = FileIdentity.of(self.layout.db)
        if (found is None or found.size == 0) and self.layout.has_history():
            raise self._missing(found)
        conn = self._connect(create=found is None)
        if found is None or found.size == 0:
            # before the first table, the only time it can be set without a VACUUM: a prune
            # then gives the pages it frees back to the disk (store.retention)
            conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        self._local.conn, self._local.pid = conn, os.getpid()
        opened = FileIdentity.of(self.layout.db) or FileIdentity(0, 0, 0, 0)
        self.guard = FileGuard(self.layout, opened)
        version = self._user_version(conn)
        if version != SCHEMA_VERSION and not self._read_as_is(version):
            with self.write() as conn:
                if self._user_version(conn) == 0 and self.layout.has_history():
                    raise self._missing(found)
                migrate(conn)
        if not self.read_only:
            before = FileIdentity.of(self.layout.db)
            self._set_journal_mode(conn)
            if before is not None:
                self.guard.after_write(before)        # the switch to WAL rewrites the header
            self.layout.write_marker()
            if self.layout.is_shared():
                with contextlib.suppress(OSError):
                    fix_shared_file_modes(self.layout)
            elif self.layout.is_system():
                with contextlib.suppress(OSError):
                    fix_private_file_modes(self.layout)
        self.guard.opened = FileIdentity.of(self.layout.db) or self.guard.opened
        return self.guard

    def _read_as_is(self, version: int) -> bool:
        """An older schema this code still reads, in a queue this process cannot write (a
        read-only or full filesystem, no write permission): reads answer without migrating
        (the store counts rows where a newer table would); the next writer migrates."""
        if not 0 < version < SCHEMA_VERSION:
            return False
        if self.read_only or unwritable_filesystem(self.layout):
            return True
        try:
            check_writable(self.layout)
        except QueueError:
            return True
        return False

    def _missing(self, found: FileIdentity | None) -> DatabaseMissing:
        what = "is missing (deleted?)" if found is None else "is empty (0 bytes: truncated?)"
        return DatabaseMissing(
            f"queue {self.layout.root}: its database jobs.db {what}, but this folder has held jobs;"
            f" nothing was created. To rebuild it, {recover_hint(self.layout)}")

    def _user_version(self, conn: sqlite3.Connection) -> int:
        try:
            return int(conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.Error as exc:
            raise self._explain(exc) from None

    def _set_journal_mode(self, conn: sqlite3.Connection) -> None:
        """Switching needs the file to itself and fails at once (no busy handler) while another
        process opening the same fresh folder reads it: retry until the busy timeout."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != self.journal:
                    conn.execute(f"PRAGMA journal_mode = {self.journal}").fetchone()
                self._wal_active = self.journal == "wal"
                return
            except sqlite3.OperationalError as exc:
                if error_code(exc) not in (BUSY, LOCKED) or time.monotonic() > deadline:
                    raise self._explain(exc) from None
                time.sleep(0.005)

    # ---- connections ------------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            guard = getattr(self, "guard", None)
            if guard is not None:
                guard.check()                 # a new thread or a fork: still the file we opened?
            conn = self._connect(create=False)
            self._local.conn, self._local.pid = conn, os.getpid()
            if guard is not None:
                guard.check()                 # (and it was not swapped while we connected)
        return conn

    def _connect(self, create: bool) -> sqlite3.Connection:
        """``mode=rw``: a connection never creates jobs.db, except when the queue is new."""
        uri = f"{self.layout.db.as_uri()}?mode={'rwc' if create else 'rw'}"
        try:
            conn = self._configured(sqlite3.connect(uri, uri=True, timeout=self.busy_timeout,
                                                    isolation_level=None, check_same_thread=False))
        except sqlite3.Error as exc:
            if create or not unwritable_filesystem(self.layout):
                raise self._explain(exc) from None
            # a read-only or full filesystem and no -shm file to share: read the file as it is
            frozen = f"{self.layout.db.as_uri()}?mode=ro&immutable=1"
            conn = self._configured(sqlite3.connect(frozen, uri=True, isolation_level=None,
                                                    check_same_thread=False))
            self.read_only = True
        return conn

    def _configured(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        conn.execute("PRAGMA schema_version").fetchone()          # the first real read of the file
        conn.execute("PRAGMA synchronous = NORMAL" if self.journal == "wal"
                     else "PRAGMA synchronous = FULL")
        # after a stray reader let the WAL grow, give the space back once it is checkpointed
        conn.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        conn.execute("PRAGMA wal_autocheckpoint = 0")          # see _checkpoint_now_and_then()
        conn.execute("PRAGMA foreign_keys = OFF")
        return conn

    def _leave_read_only(self) -> bool:
        """The filesystem came back: drop the read-only connection for a normal one."""
        if not self.read_only or unwritable_filesystem(self.layout):
            return False
        self.close()
        self.read_only = False
        return True

    def _explain(self, exc: sqlite3.Error) -> QueueError:
        """A file emptied or swapped under a statement reads as "not a database" to SQLite:
        say what happened to the file rather than call it damaged."""
        guard = getattr(self, "guard", None)
        if guard is not None and error_code(exc) in (CORRUPT, NOTADB):
            try:
                guard.check()
            except DatabaseReplaced as replaced:
                return replaced
        return explain(exc, self.layout, self.busy_timeout, trusted=not self.read_only)

    # ---- reading and writing ----------------------------------------------------------
    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A read-then-write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT`` (or rollback)."""
        if self.read_only and not self._leave_read_only():
            check_writable(self.layout)
            raise DiskFull(f"queue {self.layout.root}: the disk holding the queue is full;"
                           " nothing was changed")
        if not self._writable_checked:
            check_writable(self.layout)          # names the file and the fix, before SQLite fails
            self._writable_checked = True
        conn = self.connection()
        self.guard.before_write(conn)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._explain(exc) from None
        # a commit in the rollback journal (or the one creating the db) writes the file: the ok
        # verdict moves along (in WAL mode the file changes in checkpoints only)
        before = None if self._wal_active else FileIdentity.of(self.layout.db)
        changes = conn.total_changes
        try:
            if not self._schema_current:
                self._schema_current = self._migrate_first(conn)
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise self._explain(exc) from None
            raise
        with self._lock:
            self._commits += 1
        if before is not None:
            self.guard.after_write(before)
        else:
            self._checkpoint_now_and_then(conn.total_changes - changes)

    def _migrate_first(self, conn: sqlite3.Connection) -> bool:
        """A queue opened read-only on an older schema (read as it is) is migrated by its
        first write, in that write's transaction, so no write meets a missing column. Returns
        whether the schema is current (a brand-new file, version 0, is created by ``_open``)."""
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if 0 < version < SCHEMA_VERSION:
            migrate(conn)
            version = SCHEMA_VERSION
        return version == SCHEMA_VERSION

    def _checkpoint_now_and_then(self, changes: int) -> None:
        """SQLite's automatic checkpoints are off (they would change the file without moving
        the integrity verdict along): ours come every ``CHECKPOINT_COMMITS`` commits or
        ``CHECKPOINT_ROWS`` changed rows, about as often (a few MB of WAL)."""
        with self._lock:
            self._unsaved = (self._unsaved[0] + 1, self._unsaved[1] + changes)
            due = self._unsaved[0] >= CHECKPOINT_COMMITS or self._unsaved[1] >= CHECKPOINT_ROWS
            if due:
                self._unsaved = (0, 0)
        if due and self.checkpoint_due is not None:
            self.checkpoint_due.set()
        elif due:
            self.checkpoint()

    def read(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:  # type: ignore[type-arg]
        """One autocommit SELECT; never leaves a read transaction open (WAL would grow)."""
        if self.read_only:
            self._leave_read_only()
        conn = self.connection()
        self.guard.check()
        try:
            cursor = conn.execute(sql, params)
            rows = cursor.fetchall()
            cursor.close()
            return rows
        except sqlite3.Error as exc:
            raise self._explain(exc) from None

    def data_version(self) -> int:
        """Changes whenever any process (this one included) commits to the queue. Read on
        one connection of this process (under a lock), whichever thread asks: each connection
        counts from its own start, so numbers from two threads' connections could not be
        compared (a server answers from a pool of threads that come and go)."""
        if self.read_only:
            self._leave_read_only()
        with self._version_lock:
            conn, pid = self._version_conn
            if conn is None or pid != os.getpid():
                conn = self._connect(create=False)
                self._version_conn = (conn, os.getpid())
            self.guard.check()
            try:
                version = conn.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error as exc:
                raise self._explain(exc) from None
        return int(version) + self._commits

    def checkpoint(self) -> None:
        """Copy the WAL into the file and move the integrity verdict along."""
        if self.journal != "wal" or self.read_only:
            return
        before = self.guard.current()
        with contextlib.suppress(sqlite3.Error):
            self.connection().execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        self.guard.after_write(before)

    def close(self) -> None:
        """Close this thread's connection; the last one to close checkpoints the WAL into the
        file, so the integrity verdict is moved along (else the next writer checks again)."""
        with self._version_lock:                 # the version's reader first (it never writes)
            reader, pid = self._version_conn
            self._version_conn = (None, 0)
        if reader is not None and pid == os.getpid():
            reader.close()
        conn = getattr(self._local, "conn", None)
        if conn is None:
            return
        before = FileIdentity.of(self.layout.db)
        conn.close()
        self._local.conn = None
        ours = self._local.pid == os.getpid()
        if before is not None and ours and self.guard.opened.same_file(before):
            self.guard.after_write(before)

    def __del__(self) -> None:
        try:  # noqa: SIM105 - no contextlib.suppress: at interpreter exit modules may be gone
            self.close()
        except Exception:  # noqa: BLE001, S110 - a finalizer must not raise
            pass


@atexit.register
def _close_at_exit() -> None:
    for database in list(_OPEN):
        with contextlib.suppress(Exception):
            database.close()


__all__ = ["BUSY_TIMEOUT_S", "Database", "read_only_filesystem"]
