"""``%job worker start|stop|status``: a worker process owned by this kernel.

It runs in its own session (interrupting the kernel must not stop it) and is stopped when
the kernel exits: by ``atexit`` on a clean shutdown, and by the kernel's death signal
(Linux ``PR_SET_PDEATHSIG``, set by a tiny launcher that then execs the worker: no
``preexec_fn``, which is unsafe in a kernel that runs threads) when the kernel is killed."""
from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..client import Queue
from ..errors import JobmagicsError

REGISTER_TIMEOUT_S = 30.0
# the death signal survives exec; if the kernel died before it was set, do not start at all
_LAUNCHER = """
import ctypes, os, signal, sys
try:
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
except OSError:
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)
os.execv(sys.executable, [sys.executable, "-m", "kernel_worker", *sys.argv[2:]])
"""


class OwnedWorker:
    def __init__(self, queue: Queue, args: list[str]) -> None:
        self.queue = queue
        self.log_path: Path = queue.layout.root / "logs" / f"worker-kernel-{os.getpid()}-{time.time_ns()}.log"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _LAUNCHER, str(os.getpid()), "--queue", str(queue.path), *args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self.pid = self.process.pid

    def wait_registered(self) -> None:
        deadline = time.monotonic() + REGISTER_TIMEOUT_S
        while time.monotonic() < deadline:
            if any(w["pid"] == self.pid for w in self.queue.workers(alive_only=False)):
                return
            if self.process.poll() is not None:
                raise JobmagicsError(f"the worker exited with status {self.process.returncode}: {self.last_line()}")
            time.sleep(0.05)
        self.stop()
        raise JobmagicsError(f"the worker did not start within {REGISTER_TIMEOUT_S:.0f} s (log: {self.log_path})")

    def last_line(self) -> str:
        try:
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return "no log"
        return lines[-1] if lines else "no output"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM: running jobs get the worker's shutdown grace, then go back to the queue."""
        if self.alive:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


_owned: list[OwnedWorker] = []


def start_worker(queue: Queue, slots: int | None, resources: list[str], startup: str | None) -> OwnedWorker:
    args = ["--slots", str(slots)] if slots is not None else []
    for resource in resources:
        args += ["--resource", resource]
    if startup:
        args += ["--startup", os.path.abspath(os.path.expanduser(startup))]
    worker = OwnedWorker(queue, args)
    _owned.append(worker)
    worker.wait_registered()
    return worker


def owned_workers(queue: Queue | None = None) -> list[OwnedWorker]:
    return [w for w in _owned if w.alive and (queue is None or w.queue.path == queue.path)]


def stop_workers(queue: Queue | None = None) -> list[OwnedWorker]:
    stopped = owned_workers(queue)
    for worker in stopped:
        worker.stop()
    _owned[:] = [w for w in _owned if w.alive]
    return stopped


@atexit.register
def _stop_all_on_exit() -> None:
    for worker in _owned:
        with contextlib.suppress(Exception):
            worker.stop(timeout=5.0)
