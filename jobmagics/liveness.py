"""Is a worker process alive? Same host: its pid and start time; elsewhere: its lease."""
from __future__ import annotations

import socket

import psutil

from .model import WorkerRecord


def process_start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def same_process(pid: int, started: float | None) -> bool:
    """True if ``pid`` is still the process that started at ``started`` (guards pid reuse).

    A zombie (exited, not yet reaped by its parent) is not alive: a SIGKILLed worker whose
    parent never waits for it must still have its jobs recovered."""
    now_started = process_start_time(pid)
    if now_started is None or _zombie(pid):
        return False
    return started is None or abs(now_started - started) < 0.5


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return True


def worker_alive(worker: WorkerRecord, now: float, lease: float) -> bool:
    if worker.host == socket.gethostname():
        return same_process(worker.pid, worker.pid_started)
    return now - worker.heartbeat_at <= lease
