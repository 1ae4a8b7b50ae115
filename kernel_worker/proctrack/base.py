"""What every process container offers (``Container``)."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from jobmagics.liveness import same_process

KILL_WAIT_S = 5.0           # a SIGKILLed process leaves in milliseconds unless stuck in the kernel


class Container(Protocol):
    """The processes of one attempt (or of one worker's home).

    A new process joins its container itself, before it runs anything of the job: a command
    through ``command(argv)``, a forked child by writing ``0`` to ``join_path()``. Moving a
    process costs the mover a wait on a lock every fork and exit on the machine takes, so the
    worker's loop never moves the processes it starts (``add`` is for kernels and the zygote)."""

    name: str

    def command(self, argv: list[str]) -> list[str]:
        """The argv that joins the container, then executes ``argv`` (same pid, fds, env)."""

    def command_for_owner(self, argv: list[str]) -> tuple[list[str], int | None]:
        """``command`` for a child that becomes another account before it executes anything
        (``Popen(user=...)``): also a descriptor the caller passes to it (``pass_fds``) and
        closes once it started (None: nothing to pass)."""

    def join_path(self) -> str | None:
        """A file a process writes ``0`` to, to join the container (None: nothing to join)."""

    def started(self, pid: int) -> None:
        """The attempt's first process started, leading its own process group."""

    def add(self, pid: int, *, own_group: bool = True) -> None:
        """Move a running process (and all it starts from now on) in. ``own_group``: it leads a
        process group of this attempt alone (the marks backend ends that group)."""

    def signal(self, sig: int) -> None:
        """Send ``sig`` to every process in the container."""

    def kill(self, timeout: float = KILL_WAIT_S) -> bool:
        """SIGKILL every process in it and wait until they are gone; True if none is left."""

    def release(self, *, stopped: bool = False, timeout: float = KILL_WAIT_S) -> bool:
        """The attempt is over: kill what is left (``stopped``: it was cancelled, timed out or
        lost, so look everywhere) and remove the container. True if nothing is left."""


def running(pid: int) -> bool:
    """Alive and not a zombie (an exited process nobody reaped yet does nothing)."""
    return same_process(pid, None)


def wait_until(done: Callable[[], bool], deadline: float) -> bool:
    """Poll ``done()`` (quickly at first) until it is true or the monotonic ``deadline`` passes."""
    pause = 0.001
    while not done():
        if time.monotonic() >= deadline:
            return done()
        time.sleep(pause)
        pause = min(pause * 2, 0.02)
    return True
