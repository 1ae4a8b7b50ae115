"""``kernel_worker.spawn``: start a worker process and wait until it serves its queue.

The one way anything starts a worker (the ``%job worker`` magic, ``jobmagics.run``'s personal
worker, the benchmarks, the test fixtures), so a worker that cannot start is reported alike
everywhere: ``NoWorker`` with how it ended and the last line of its log.

The module is not called ``spawn``: importing a submodule of that name would set the package's
attribute ``kernel_worker.spawn`` to the module, hiding the function."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from jobmagics import Queue
from jobmagics.errors import NoWorker, QueueError
from jobmagics.outputs import last_line
from jobmagics.paths import resolve_queue_dir

REGISTER_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0            # past the worker's shutdown grace (10 s by default)
_POLL_S = 0.02
_TAIL_BYTES = 64 * 1024          # enough for the last line of a log that others append to

# Runs in the child, then becomes the worker: the kernel sends it SIGTERM when its parent dies
# (PR_SET_PDEATHSIG survives exec); if the parent died before that was set, it does not start.
# A launcher rather than ``preexec_fn``, which is unsafe in a parent that runs threads.
_TIED_LAUNCHER = """
import ctypes, os, signal, sys
try:
    ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
except OSError:
    pass
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)
os.execv(sys.executable, [sys.executable, "-m", "kernel_worker", *sys.argv[2:]])
"""


def spawn(queue: Queue | str | os.PathLike[str], *args: str, wait: bool = True,
          log: Path | None = None, tie_to_parent: bool = False, new_session: bool = False,
          env: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None,
          timeout: float = REGISTER_TIMEOUT_S) -> WorkerHandle:
    """Start ``python -m kernel_worker --queue DIR *args`` and, with ``wait``, return once it
    is in the queue's workers table (or has exited with status 0, as ``--drain`` does with
    nothing to do); otherwise raise ``NoWorker`` (after stopping it, if it is still there).

    Its stdout and stderr go to ``log`` (default: a new file in the queue's ``logs/``).
    ``env`` is its whole environment (default: this process's), always with
    ``PYTHONUNBUFFERED=1``. ``tie_to_parent``: it gets SIGTERM when the thread that called
    spawn ends (Linux's parent-death signal; call it from the main thread). ``new_session``:
    it leaves this process's session, so a Ctrl-C or a kernel interrupt does not reach it."""
    opened = queue if isinstance(queue, Queue) else None
    queue_dir = queue.path if isinstance(queue, Queue) else resolve_queue_dir(queue)
    log_path = Path(log) if log is not None else _fresh_log(queue_dir)
    worker_argv = ["--queue", str(queue_dir), *args]
    argv = ([sys.executable, "-c", _TIED_LAUNCHER, str(os.getpid()), *worker_argv] if tie_to_parent
            else [sys.executable, "-m", "kernel_worker", *worker_argv])
    environment = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
    with open(log_path, "ab") as output:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=subprocess.STDOUT, env=environment, cwd=cwd,
                                   start_new_session=new_session)
    handle = WorkerHandle(process, log_path, queue_dir, opened)
    if wait:
        handle.wait_registered(timeout)
    return handle


class WorkerHandle:
    """A worker process started by :func:`spawn`: ``process`` (its ``Popen``), ``pid``,
    ``log_path`` and the ``queue`` it serves."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, queue_dir: Path,
                 queue: Queue | None = None) -> None:
        self.process = process
        self.pid = process.pid
        self.log_path = log_path
        self.queue_dir = queue_dir
        self._queue = queue

    def __repr__(self) -> str:
        return f"<WorkerHandle pid={self.pid} queue={str(self.queue_dir)!r}>"

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def queue(self) -> Queue:
        """The queue it serves, opened on first use."""
        if self._queue is None:
            self._queue = Queue(self.queue_dir)
        return self._queue

    def registered(self) -> bool:
        """Whether it has entered itself in the queue's workers table (it may have left since)."""
        queue = self._queue_once_created()
        if queue is None:
            return False
        return any(w["pid"] == self.pid for w in queue.workers(alive_only=False))

    def _queue_once_created(self) -> Queue | None:
        """The queue, left to the worker to create when it does not exist yet."""
        if self._queue is None and (self.queue_dir / "jobs.db").exists():
            with contextlib.suppress(QueueError):           # still being created: ask again later
                self._queue = Queue(self.queue_dir)
        return self._queue

    def wait_registered(self, timeout: float = REGISTER_TIMEOUT_S) -> None:
        """Return once it is registered or has exited with status 0; else raise ``NoWorker``
        (stopping it first when it is still running after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.process.poll()     # before the check: a registered worker may end
            if self.registered() or status == 0:
                return
            if status is not None:
                raise NoWorker(f"the worker for {self.queue_dir} {_ended(status)} before it "
                               f"registered: {self.last_line()} (log: {self.log_path})")
            if time.monotonic() >= deadline:
                break
            time.sleep(_POLL_S)
        self.stop(timeout=5.0)               # it holds no job yet: no grace to wait for
        raise NoWorker(f"the worker for {self.queue_dir} did not register within {timeout:g} s "
                       f"and was stopped; its last line: {self.last_line()} (log: {self.log_path})")

    def output(self) -> str:
        """Its whole log so far ("" if the log cannot be read)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def last_line(self) -> str:
        """The last non-empty line of its log: where a worker that fails says why."""
        try:
            return last_line(self.log_path, _TAIL_BYTES) or "(its log is empty)"
        except OSError as exc:
            return f"(its log cannot be read: {exc.strerror})"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Send ``sig`` (SIGTERM: running jobs get the worker's shutdown grace, then go back to
        the queue), SIGKILL it if it is still there after ``timeout`` s; its exit status."""
        if self.alive:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.wait()

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        self.process.kill()
        self.process.wait()


def _fresh_log(queue_dir: Path) -> Path:
    """A new file in the queue's ``logs/``; a temporary file where there is none to write (a
    queue the worker is yet to create, or a path that cannot be one)."""
    logs = queue_dir / "logs"
    with contextlib.suppress(OSError):
        if logs.is_dir() and os.access(logs, os.W_OK):
            return logs / f"worker-{os.getpid()}-{time.time_ns()}.log"
    handle, path = tempfile.mkstemp(prefix="kernel-worker-", suffix=".log")
    os.close(handle)
    return Path(path)


def _ended(status: int) -> str:
    if status >= 0:
        return f"exited with status {status}"
    try:
        return f"was killed by {signal.Signals(-status).name}"
    except ValueError:
        return f"was killed by signal {-status}"
