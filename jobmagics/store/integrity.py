"""Is ``jobs.db`` still the file this process opened, and is it sound?

Two cheap guards around every use of the database (``FileGuard``):

- *identity*: the (device, inode) of ``jobs.db`` is recorded when it is opened; a later
  ``stat`` that finds no file, another inode or 0 bytes means it was deleted, replaced or
  truncated under us, and nothing more is read from or written to it;
- *integrity*: before its first write, a process makes sure the file passed SQLite's
  ``PRAGMA quick_check``. The check costs about 5 ms per MB, so its verdict is kept in a
  small file with the identity, size and mtime it applies to: whoever changes the file
  through SQLite (a commit that checkpoints, a worker's checkpoint) re-stamps it, and only a
  change made behind SQLite's back (or a crash) makes the next writer check again. A
  "damaged" verdict sticks to the inode until ``jobmagics init --recover`` moves it aside.
"""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass

from ..errors import DatabaseDamaged, DatabaseReplaced
from ..paths import QueueLayout

VERDICT_LOOK_S = 0.2
RECOVER_HINT = ("run `jobmagics init --recover {root}` (it keeps the old file aside, salvages"
                " what it can and never reuses a job id; add --from BACKUP to start from a"
                " `jobmagics backup` copy)")


@dataclass(frozen=True)
class FileIdentity:
    dev: int
    ino: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: os.PathLike[str] | str) -> FileIdentity | None:
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return None
        return cls(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)

    def same_file(self, other: FileIdentity | None) -> bool:
        return other is not None and (self.dev, self.ino) == (other.dev, other.ino)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    detail: str
    file: FileIdentity

    def applies_to(self, current: FileIdentity) -> bool:
        """An ok verdict holds for exactly that content; a damaged one for the whole inode."""
        return current == self.file if self.ok else self.file.same_file(current)


def recover_hint(layout: QueueLayout) -> str:
    return RECOVER_HINT.format(root=layout.root)


def damaged_error(layout: QueueLayout, detail: str) -> DatabaseDamaged:
    detail = " ".join(detail.split())
    return DatabaseDamaged(f"queue {layout.root}: the database jobs.db is damaged ({detail});"
                           " writes are refused so the damage cannot spread;"
                           f" {recover_hint(layout)}")


def read_verdict(layout: QueueLayout) -> Verdict | None:
    try:
        raw = json.loads(layout.verdict.read_text())
        return Verdict(bool(raw["ok"]), str(raw["detail"]), FileIdentity(**raw["file"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_verdict(layout: QueueLayout, verdict: Verdict) -> None:
    """Best effort (a read-only or full disk keeps the old verdict): atomic by rename."""
    writer = f"{os.getpid()}.{threading.get_ident()}"
    temporary = layout.verdict.with_name(f"{layout.verdict.name}.{writer}")
    body = {"ok": verdict.ok, "detail": verdict.detail, "file": asdict(verdict.file),
            "at": time.time()}
    try:
        temporary.write_text(json.dumps(body))
        if layout.is_shared():
            os.chmod(temporary, 0o660)
        os.replace(temporary, layout.verdict)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink()


def mark_damaged(layout: QueueLayout, detail: str) -> None:
    current = FileIdentity.of(layout.db)
    if current is not None:
        write_verdict(layout, Verdict(False, detail, current))


def quick_check(conn: sqlite3.Connection) -> tuple[bool, str]:
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(3)").fetchall()]
    except sqlite3.DatabaseError as exc:
        return False, str(exc)
    lines = [line for row in rows for line in row.splitlines()
             if line and not line.startswith("***")]
    return rows == ["ok"], "; ".join(lines)[:300]


class FileGuard:
    """The identity and integrity guards of one ``Database`` (see the module's docstring)."""

    def __init__(self, layout: QueueLayout, opened: FileIdentity) -> None:
        self.layout = layout
        self.opened = opened
        self.checked = False               # this process ran (or trusted) the integrity check
        self.orphan_ok = False             # a worker finishing up on the file it had open
        self._verdict_seen: tuple[int, int] | None = None
        self._db, self._verdict = str(layout.db), str(layout.verdict)
        self._next_look = 0.0

    def check(self) -> None:
        """On every read and write (one ``stat``): ``DatabaseReplaced`` unless jobs.db is still
        the file we opened, not emptied."""
        if self.orphan_ok:
            return
        try:
            info = os.stat(self._db)
        except OSError:
            self.current()
            return
        if info.st_ino != self.opened.ino or info.st_dev != self.opened.dev or (
                info.st_size == 0 and self.opened.size > 0):
            self.current()

    def current(self) -> FileIdentity:
        """``jobs.db`` as it is now; ``DatabaseReplaced`` unless it is the file we opened."""
        now = FileIdentity.of(self.layout.db)
        if self.orphan_ok or (now is not None and self.opened.same_file(now)
                              and (now.size > 0 or self.opened.size == 0)):
            return now or self.opened
        if now is None:
            what = "was deleted"
        elif self.opened.same_file(now):
            what = "was truncated to 0 bytes"
        else:
            what = "was replaced by another file"
        raise DatabaseReplaced(
            f"queue {self.layout.root}: the database jobs.db {what} after this process opened it;"
            " nothing more is written to it."
            f" If that was not a restore, {recover_hint(self.layout)}")

    def before_write(self, conn: sqlite3.Connection) -> None:
        """Refuse to write to a damaged or foreign file (two ``stat`` calls once checked)."""
        self.check()
        if self.orphan_ok:
            return
        if not self.checked:
            current = self.current()
            verdict = read_verdict(self.layout)
            if verdict is None or not verdict.applies_to(current):
                verdict = Verdict(*quick_check(conn), current)
                write_verdict(self.layout, verdict)
            self.checked = True
            if not verdict.ok:
                raise damaged_error(self.layout, verdict.detail)
        self._refuse_if_found_damaged()

    def _refuse_if_found_damaged(self) -> None:
        """Another process may have met the damage since our own check: a ``stat`` of the
        verdict at most every ``VERDICT_LOOK_S`` (a busy writer then stops within that)."""
        now = time.monotonic()
        if now < self._next_look:
            return
        self._next_look = now + VERDICT_LOOK_S
        try:
            info = os.stat(self._verdict)
        except OSError:
            return
        seen = (info.st_ino, info.st_mtime_ns)
        if seen == self._verdict_seen:
            return
        verdict = read_verdict(self.layout)
        if verdict is not None and not verdict.ok and verdict.applies_to(self.opened):
            raise damaged_error(self.layout, verdict.detail)
        self._verdict_seen = seen

    def after_write(self, before: FileIdentity) -> None:
        """SQLite itself changed the file (a commit, a checkpoint): the ok verdict moves along."""
        after = FileIdentity.of(self.layout.db)
        if self.orphan_ok or after is None or after == before:
            return
        verdict = read_verdict(self.layout)
        if verdict is not None and verdict.ok and verdict.file == before:
            write_verdict(self.layout, Verdict(True, verdict.detail, after))
