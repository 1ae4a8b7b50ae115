"""What every local job process shares: its own process group, watched through a pidfd."""
from __future__ import annotations

import contextlib
import os
import signal

from jobmagics.liveness import process_start_time


class ProcessGroupExecution:
    """A job that leads its own process group; ``fileno()`` is a pidfd, readable once the
    leader has exited. Subclasses say how the outcome is known (``poll``)."""

    backend_id: str | None = None

    def __init__(self, job_id: str, pid: int) -> None:
        self.job_id = job_id
        self.pid: int | None = pid
        self.pid_started = process_start_time(pid)
        self._pidfd: int | None = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None

    def fileno(self) -> int | None:
        return self._pidfd

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid or 0, sig)

    def terminate(self) -> None:
        self._signal_group(signal.SIGTERM)

    def kill(self) -> None:
        self._signal_group(signal.SIGKILL)

    def close(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
