"""What every local job process shares: its own process group, watched through a pidfd, inside
the attempt's process container (see ``proctrack``)."""
from __future__ import annotations

import contextlib
import os
import signal

from jobmagics.liveness import process_start_time

from ..proctrack import Container


class ProcessGroupExecution:
    """A job that leads its own process group; ``fileno()`` is a pidfd, readable once the
    leader has exited. Subclasses say how the outcome is known (``poll``). Stopping it (cancel,
    timeout, shutdown) reaches every process of the attempt's container, not only the group,
    and ``close()`` ends whatever the attempt left running."""

    backend_id: str | None = None

    def __init__(self, job_id: str, pid: int, container: Container,
                 pidfd: int | None = None) -> None:
        """``pidfd``: one opened by the process's parent before it could be reaped (a zygote's
        child may end before we could open our own), now ours to close."""
        self.job_id = job_id
        self.pid: int | None = pid
        self.pid_started = process_start_time(pid)
        self.container = container
        self._stopped = False
        if pidfd is None and hasattr(os, "pidfd_open"):
            pidfd = os.pidfd_open(pid)
        self._pidfd: int | None = pidfd

    def fileno(self) -> int | None:
        return self._pidfd

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid or 0, sig)

    def terminate(self) -> None:
        self._stopped = True
        self._signal_group(signal.SIGTERM)
        self.container.signal(signal.SIGTERM)

    def kill(self) -> None:
        self._stopped = True
        self._signal_group(signal.SIGKILL)
        self.container.kill()

    def close(self) -> None:
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        self.container.release(stopped=self._stopped)
