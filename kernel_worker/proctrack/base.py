"""What every process container offers (``Container``), and the lock that keeps the worker's
other threads from starting processes while its main thread starts a job inside a cgroup."""
from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol, TypeVar

KILL_WAIT_S = 5.0           # a SIGKILLed process leaves within milliseconds unless stuck in the kernel
# cgroup v2 moves whole processes: while the worker's main thread starts a job from inside the
# job's cgroup, no other thread of the worker may start a process (it would be born there too)
SPAWN_LOCK = threading.Lock()

Started = TypeVar("Started")


@contextlib.asynccontextmanager
async def launching() -> AsyncIterator[None]:
    """Hold ``SPAWN_LOCK`` while an event loop in another thread starts a process (a kernel),
    without blocking that loop while the main thread holds it."""
    acquired = asyncio.get_running_loop().run_in_executor(None, SPAWN_LOCK.acquire)
    try:
        await asyncio.shield(acquired)
    except BaseException:
        acquired.add_done_callback(lambda _: SPAWN_LOCK.release())
        raise
    try:
        yield
    finally:
        SPAWN_LOCK.release()


class Container(Protocol):
    """The processes of one attempt (or of one worker's home)."""

    name: str

    def spawn(self, start: Callable[[], Started]) -> Started:
        """Run ``start()`` (which starts a process, returned, with a ``pid``) so that the process
        is in the container from its first instruction."""

    def add(self, pid: int, *, own_group: bool = True) -> None:
        """Put a started process (and all it starts from now on) in. ``own_group``: it leads a
        process group of this attempt alone (the marks backend ends that group)."""

    def signal(self, sig: int) -> None:
        """Send ``sig`` to every process in the container."""

    def kill(self, timeout: float = KILL_WAIT_S) -> bool:
        """SIGKILL every process in it and wait until they are gone; True if none is left."""

    def release(self, *, stopped: bool = False) -> bool:
        """The attempt is over: kill what is left (``stopped``: it was cancelled, timed out or
        lost, so look everywhere) and remove the container. True if nothing is left."""


def running(pid: int) -> bool:
    """Alive and not a zombie (an exited process nobody reaped yet does nothing)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def wait_until(done: Callable[[], bool], deadline: float) -> bool:
    """Poll ``done()`` (quickly at first) until it is true or the monotonic ``deadline`` passes."""
    pause = 0.001
    while not done():
        if time.monotonic() >= deadline:
            return done()
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    return True
