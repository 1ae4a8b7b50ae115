"""One job's run in a Jupyter kernel as the worker sees it: ``KernelExecution`` (the
``Execution`` the worker polls, terminates and kills from its own thread) and ``RunState``,
what that thread and the executor's event loop share about the run (see ``kernel``)."""
from __future__ import annotations

import concurrent.futures
import contextlib
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobmagics.model import JobRecord

from ..identity import Identity
from ..proctrack import Container
from .base import Outcome
from .kernel_session import ManagedKernel
from .kernel_work import KernelWork

if TYPE_CHECKING:
    from .kernel import KernelExecutor


@dataclass
class RunState:
    """Shared between the worker's thread (terminate/kill) and the loop (the run).

    A SIGINT that reaches ipykernel outside of running code can kill the kernel, so the
    interrupt is only sent while the job's code runs (after its ``execute_input``); a stop
    asked for earlier makes the run skip the code instead."""

    job: JobRecord
    container: Container
    work: KernelWork                     # what the kernel executes for the job's kind
    owner: Identity | None = None        # a system queue's: its files are theirs (a fresh
    #                                      kernel runs as them; the instrument's stays ours)
    trusted: bool = True                 # may the owner run code in the kernel it gets
    payload: bytes | bool | None = False  # its pushed variables as read (False: not read)
    kernel: ManagedKernel | None = None
    stop: str | None = None              # "interrupt" | "kill"
    running_code: bool = False
    interrupted: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stop_asked(self) -> bool:
        """Read afresh after every await: the worker's thread may have asked meanwhile."""
        return self.stop is not None

    def want_interrupt(self) -> bool:
        """The worker asks to stop; True if the caller should interrupt the kernel now."""
        with self.lock:
            self.stop = self.stop or "interrupt"
            return self._claim_interrupt()

    def code_started(self) -> bool:
        """The code began; True if a stop was already asked for (interrupt it now)."""
        with self.lock:
            self.running_code = True
            return self.stop is not None and self._claim_interrupt()

    def code_ended(self) -> None:
        with self.lock:
            self.running_code = False

    def _claim_interrupt(self) -> bool:
        if self.running_code and not self.interrupted:
            self.interrupted = True
            return True
        return False


class KernelExecution:
    """One job running in a kernel. ``fileno()`` is a pipe written when the run ends."""

    backend_id: str | None = None
    pid_started: float | None = None

    def __init__(self, executor: KernelExecutor, state: RunState, pid: int | None) -> None:
        self.job_id = state.job.id
        self._start_pid = pid
        self._executor = executor
        self._state = state
        self._stopped = False
        self._read_fd, self._write_fd = os.pipe()
        self._future = executor.submit(executor.run_job(state))
        self._future.add_done_callback(self._signal_end)

    @property
    def pid(self) -> int | None:
        """The kernel running the job. A fresh kernel is only taken when the run begins, so
        read it live: the worker's memory watchdog measures this process."""
        kernel = self._state.kernel
        if kernel is not None and not kernel.dead:
            return kernel.pid
        return self._start_pid

    @pid.setter
    def pid(self, value: int | None) -> None:   # Execution declares pid a plain attribute
        self._start_pid = value

    def _signal_end(self, _future: concurrent.futures.Future[Outcome]) -> None:
        with contextlib.suppress(OSError):
            os.write(self._write_fd, b"x")

    def fileno(self) -> int | None:
        return self._read_fd

    def poll(self) -> Outcome | None:
        if not self._future.done():
            return None
        if self._future.cancelled():
            return Outcome(None, "stopped before it started")
        error = self._future.exception()
        if error is not None:
            return Outcome(None, f"kernel executor error: {type(error).__name__}: {error}")
        return self._future.result()

    def terminate(self) -> None:
        """Interrupt the kernel (KeyboardInterrupt in the job's code)."""
        self._stopped = True
        kernel = self._state.kernel
        if self._state.want_interrupt() and kernel is not None:
            self._executor.submit(kernel.interrupt())

    def kill(self) -> None:
        """The job did not stop in the grace period: kill its container, kernel included (a
        persistent one is restarted for the next job)."""
        self._stopped = True
        self._state.stop = "kill"
        self._state.container.kill()
        kernel = self._state.kernel
        if kernel is not None:
            self._executor.submit(kernel.kill())

    def close(self) -> None:
        for fd in (self._read_fd, self._write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._state.container.release(stopped=self._stopped)
