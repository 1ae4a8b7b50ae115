"""Wake the worker promptly when the queue changes: inotify on the queue folder (Linux),
with ``PRAGMA data_version`` telling real changes from our own writes. The watch itself is
``jobmagics.watch.FolderWatch``, shared with the widgets and the server."""
from __future__ import annotations

from pathlib import Path

from jobmagics.watch import FolderWatch


class Waker(FolderWatch):
    """A readable file descriptor that fires when any file in the queue folder is written."""

    def __init__(self, folder: Path) -> None:
        super().__init__([folder])
