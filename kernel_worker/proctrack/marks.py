"""Containers without cgroups: the attempt's process group plus its marks in /proc environ."""
from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable

from jobmagics.context import ATTEMPT_VAR, JOB_ID_VAR, QUEUE_VAR
from jobmagics.liveness import process_start_time, same_process

from .base import KILL_WAIT_S, running, wait_until


class MarksContainer:
    """Without cgroups: the attempt's process group and every process carrying its marks."""

    def __init__(self, name: str, queue_root: str, job_id: str | None, attempt: int | None) -> None:
        self.name = name
        self.marks = None if job_id is None else (queue_root, job_id, attempt)
        self.leader: tuple[int, float | None] | None = None

    def command(self, argv: list[str]) -> list[str]:
        return argv

    def command_for_owner(self, argv: list[str]) -> tuple[list[str], int | None]:
        return argv, None

    def join_path(self) -> str | None:
        return None

    def started(self, pid: int) -> None:
        self.add(pid)

    def add(self, pid: int, *, own_group: bool = True) -> None:
        if own_group and self.leader is None:
            self.leader = (pid, process_start_time(pid))

    def members(self) -> list[int]:
        return [] if self.marks is None else marked_processes(*self.marks)

    def _signal_group(self, sig: int) -> None:
        if self.leader is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.leader[0], sig)

    def signal(self, sig: int) -> None:
        self._signal_group(sig)
        for pid in self.members():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def kill(self, timeout: float = KILL_WAIT_S) -> bool:
        if self.leader is not None and same_process(*self.leader):
            self._signal_group(signal.SIGKILL)
        return kill_marked(self.members, timeout)

    def release(self, *, stopped: bool = False, timeout: float = KILL_WAIT_S) -> bool:
        # the leader has exited and been reaped: its group id cannot be reused while members live
        self._signal_group(signal.SIGKILL)
        return self.kill(timeout) if stopped else True


def marked_processes(queue_root: str, job_id: str, attempt: int | None) -> list[int]:
    """Processes on this host whose environment carries this attempt's marks: its job id and
    attempt, and its queue (ids repeat from queue to queue: every queue has a JOB-...-00001)."""
    needles = [f"\0{JOB_ID_VAR}={job_id}\0".encode(), f"\0{ATTEMPT_VAR}={attempt}\0".encode()]
    queue = os.path.realpath(queue_root)
    me, found = os.getpid(), []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as handle:
                environment = b"\0" + handle.read()
        except OSError:
            continue
        if all(needle in environment for needle in needles) and _queue_of(environment) == queue:
            found.append(int(entry.name))
    return found


def _queue_of(environment: bytes) -> str | None:
    """The real path of $JOBMAGICS_QUEUE in a NUL-separated environment block."""
    start = environment.find(f"\0{QUEUE_VAR}=".encode())
    if start < 0:
        return None
    value = environment[start + len(QUEUE_VAR) + 2:].split(b"\0", 1)[0]
    return os.path.realpath(os.fsdecode(value))


def kill_marked(find: Callable[[], list[int]], timeout: float = KILL_WAIT_S) -> bool:
    """SIGKILL what ``find()`` returns until it returns only processes that have exited. A
    process this user may not signal (another user's) is not waited for, but it is still
    alive: then the answer is False."""
    deadline = time.monotonic() + timeout
    forbidden: set[int] = set()

    def none_left() -> bool:
        alive = [pid for pid in find() if pid not in forbidden and running(pid)]
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            except PermissionError:
                forbidden.add(pid)
        return not [pid for pid in alive if pid not in forbidden]
    return wait_until(none_left, deadline) and not [pid for pid in forbidden if running(pid)]
