"""Is a worker process alive? Same host: its pid and start time; elsewhere: its lease."""
from __future__ import annotations

import os
import socket

import psutil

from .model import WorkerRecord

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_BOOT_TIME: float | None = None


def process_start_time(pid: int) -> float | None:
    """When ``pid`` started (seconds since the epoch), or None if there is no such process.

    Read straight from /proc (the worker asks once per job start: psutil.Process() cost 15% of
    the worker's time there); the same formula as psutil, so stored values compare equal."""
    stat = _proc_stat(pid)
    if stat is not None:
        return stat[1]
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def _proc_stat(pid: int) -> tuple[str, float] | None:
    """(state letter, start time) from /proc/<pid>/stat; None if unreadable or not Linux."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as handle:
            data = handle.read()
        fields = data[data.rindex(b")") + 2:].split()
        return fields[0].decode(), _boot_time() + int(fields[19]) / _CLOCK_TICKS
    except (OSError, ValueError, IndexError):
        return None


def same_process(pid: int, started: float | None) -> bool:
    """True if ``pid`` is still the process that started at ``started`` (guards pid reuse).

    A zombie (exited, not yet reaped by its parent) is not alive: a SIGKILLed worker whose
    parent never waits for it must still have its jobs recovered."""
    now_started = process_start_time(pid)
    if now_started is None or _zombie(pid):
        return False
    return started is None or abs(now_started - started) < 0.5


def _boot_time() -> float:
    global _BOOT_TIME
    if _BOOT_TIME is None:
        _BOOT_TIME = psutil.boot_time()
    return _BOOT_TIME


def _zombie(pid: int) -> bool:
    stat = _proc_stat(pid)
    if stat is not None:
        return stat[0] == "Z"
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return True


def worker_alive(worker: WorkerRecord, now: float, lease: float) -> bool:
    if worker.host == socket.gethostname():
        return same_process(worker.pid, worker.pid_started)
    return now - worker.heartbeat_at <= lease
