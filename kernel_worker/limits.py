"""Holding a job to the memory it asked for."""
from __future__ import annotations

import contextlib
import resource

import psutil


def apply_memory_limit(pid: int, limit: int) -> None:
    """Cap the job's private writable memory (RLIMIT_DATA, inherited by its children): an
    allocation past the limit fails inside the job (MemoryError in Python) instead of pushing
    the whole machine into swap. The worker's RSS watchdog catches what this cannot."""
    with contextlib.suppress(OSError, ValueError, ProcessLookupError):
        resource.prlimit(pid, resource.RLIMIT_DATA, (limit, limit))


def group_rss(pid: int) -> int:
    """Resident memory of a job: its process and every descendant (0 once it has gone)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total
