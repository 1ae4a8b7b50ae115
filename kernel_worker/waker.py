"""Wake the worker promptly when the queue changes: inotify on the queue folder (Linux),
with ``PRAGMA data_version`` telling real changes from our own writes."""
from __future__ import annotations

import contextlib
from pathlib import Path

try:
    from inotify_simple import INotify, flags
except ImportError:  # pragma: no cover - non-Linux: the fallback poll does the work
    INotify = None


class Waker:
    """A readable file descriptor that fires when any file in the queue folder is written."""

    def __init__(self, folder: Path) -> None:
        self._inotify = None
        if INotify is not None:
            with contextlib.suppress(OSError):
                notify = INotify()
                notify.add_watch(str(folder), flags.MODIFY | flags.CLOSE_WRITE | flags.MOVED_TO
                                 | flags.CREATE | flags.DELETE
                                 | flags.MOVED_FROM)   # jobs.db removed: notice at once
                self._inotify = notify

    def fileno(self) -> int | None:
        return self._inotify.fileno() if self._inotify is not None else None

    def drain(self) -> None:
        if self._inotify is not None:
            with contextlib.suppress(OSError):
                self._inotify.read(timeout=0)

    def close(self) -> None:
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None
