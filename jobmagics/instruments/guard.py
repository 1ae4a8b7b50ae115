"""Exclusive use of an instrument, across processes and within one.

A physical instrument must never be driven by two jobs at once. The queue already grants the
``hardware`` resource to one job at a time; this guard is the instrument's own second line of
defence, and it is what lets tests *prove* exclusivity: a second user gets a clear error
naming the first instead of silently interleaving pulses."""
from __future__ import annotations

import fcntl
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from ..context import job_location
from ..errors import InvalidJob


def default_lock_path(name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return Path(tempfile.gettempdir()) / f"jobmagics-station-{safe}.lock"


def describe_holder() -> str:
    location = job_location()
    job = f"{location[0]}, " if location else ""
    return f"{job}pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}"


class ExclusiveGuard:
    """``connect`` takes an OS file lock (flock: released by the kernel if the holder dies);
    ``operation()`` refuses overlapping measurements from threads of the same process."""

    def __init__(self, name: str, lock_path: str | os.PathLike[str] | None = None) -> None:
        self.name = name
        self.lock_path = Path(lock_path) if lock_path is not None else default_lock_path(name)
        self._fd: int | None = None
        self._busy = threading.Lock()
        self._operation: str | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        fd = self._open()
        holder = _lock_or_name_holder(fd)
        if holder is not None:
            os.close(fd)
            raise InvalidJob(f"station {self.name!r} is in use by {holder or 'another process'}:"
                             " an instrument serves one job at a time")
        _write_holder(fd, describe_holder())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with suppress(OSError):   # a read-only lock file: nothing to clear
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def _open(self) -> int:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError:
            # another lab member created it; locking only needs read access
            return os.open(self.lock_path, os.O_RDONLY)

    @contextmanager
    def operation(self, what: str) -> Iterator[None]:
        """Wrap one measurement: raises at once if another one is in progress."""
        if self._fd is None:
            raise InvalidJob(f"station {self.name!r} is not connected:"
                             " call station.connect() first")
        if not self._busy.acquire(blocking=False):
            raise InvalidJob(f"station {self.name!r} is busy with {self._operation}: two callers"
                             f" used it at the same time ({what} refused)")
        self._operation = what
        try:
            yield
        finally:
            self._operation = None
            self._busy.release()


# A holder writes its name just after taking the lock and clears it just before letting go:
# a refusal looks a moment longer so that it can name who holds the station.
HOLDER_NAME_WAIT = 0.5


def _lock_or_name_holder(fd: int) -> str | None:
    """None once the lock is ours; else who holds it ("" when nobody wrote a name)."""
    deadline = time.monotonic() + HOLDER_NAME_WAIT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None
        except BlockingIOError:
            holder = _read_holder(fd)
        if holder or time.monotonic() >= deadline:
            return holder
        time.sleep(0.01)


def _read_holder(fd: int) -> str:
    try:
        return os.pread(fd, 512, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _write_holder(fd: int, text: str) -> None:
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode() + b"\n", 0)
    except OSError:
        pass   # read-only lock file: the lock still holds, only the holder's name is unknown
