"""Wake promptly when a queue changes, without polling: inotify on the queue's folders (Linux).

One ``FolderWatch`` is a readable file descriptor that fires when a file in any of its folders
is written, created, moved or removed (the database and its WAL in the queue folder; a job's
log, outputs and data in theirs). Who waits on it still asks ``PRAGMA data_version`` whether the
database really changed: the descriptor only says *look now*. Without inotify (another OS, or
the kernel's watch limit reached) ``fileno()`` is None and ``wait`` sleeps a short poll instead,
so callers need no second code path. Used by the worker (``kernel_worker.waker``), the notebook
widgets' poller and the server's long poll."""
from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Iterable

try:
    from inotify_simple import INotify, flags
except ImportError:  # pragma: no cover - non-Linux: the fallback poll does the work
    INotify = None

FALLBACK_POLL_S = 0.1       # without inotify: how often a waiter looks


def _mask() -> int:
    return int(flags.MODIFY | flags.CLOSE_WRITE | flags.MOVED_TO | flags.CREATE | flags.DELETE
               | flags.MOVED_FROM)   # jobs.db removed or replaced: notice at once


class FolderWatch:
    """Fires when any file directly in ``folders`` changes. Folders that do not exist (yet) are
    skipped; a watch that cannot be made (inotify unavailable or out of watches) falls back to
    polling for all of them."""

    def __init__(self, folders: Iterable[str | os.PathLike[str]]) -> None:
        self._inotify = None
        self.folders = [os.fspath(f) for f in folders]
        if INotify is None:
            return
        with contextlib.suppress(OSError):
            notify = INotify()
            watched = 0
            for folder in self.folders:
                try:
                    notify.add_watch(folder, _mask())
                    watched += 1
                except FileNotFoundError:
                    continue
            if watched:
                self._inotify = notify
            else:
                notify.close()

    @property
    def watching(self) -> bool:
        """Does a change wake us (True), or do we poll (False)?"""
        return self._inotify is not None

    def fileno(self) -> int | None:
        return self._inotify.fileno() if self._inotify is not None else None

    def drain(self) -> None:
        """Forget the events so far (call after each wake, before looking at the queue)."""
        if self._inotify is not None:
            with contextlib.suppress(OSError):
                self._inotify.read(timeout=0)

    def wait(self, timeout: float) -> bool:
        """Block until a change or ``timeout`` seconds; True if something changed (or, without
        inotify, after at most ``FALLBACK_POLL_S``: the caller must look). Drains the events."""
        fd = self.fileno()
        if fd is None:
            time.sleep(max(0.0, min(timeout, FALLBACK_POLL_S)))
            return True
        try:
            ready, _, _ = select.select([fd], [], [], max(0.0, timeout))
        except (OSError, ValueError):       # closed under us by another thread
            return False
        if ready:
            self.drain()
        return bool(ready)

    def close(self) -> None:
        if self._inotify is not None:
            with contextlib.suppress(OSError):
                self._inotify.close()
            self._inotify = None

    def __enter__(self) -> FolderWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
