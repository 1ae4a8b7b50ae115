"""A fork server and its client: a pre-imported process that forks one child per order.

Both zygotes of a worker (``runners/zygote.py`` for function and python jobs, and
``kernel_zygote`` for fresh Jupyter kernels) are fork servers. The worker sends an order as one
message on a Unix socket (the server's stdin), with descriptors for the child when it has any;
the server forks, and answers with the child's pid and a pidfd of it. The server opens that
pidfd while the child cannot have been reaped yet (it reaps its children itself, only after
answering), so the worker never watches a pid that an unrelated process took over after a quick
child ended. The server stays single-threaded: forking a threaded process is unsafe."""
from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from typing import TypeVar

log = logging.getLogger("kernel_worker")
ORDER_BUFFER = 1 << 20        # the largest order (the worker inlines payloads far below this)
REAP_S = 1.0                  # an idle server collects its ended children this often
REPLY_TIMEOUT_S = 30.0        # the first fork waits for the server's imports
Prepared = TypeVar("Prepared")


# ---- the server's side ------------------------------------------------------------------
def serve(prepare: Callable[[bytes], Prepared],
          run_child: Callable[[Prepared, list[int]], int],
          fork: Callable[[], int] = os.fork) -> int:
    """Serve orders from stdin until the worker closes its end: ``prepare`` each (in the
    server, once), fork, and in the child ``run_child`` with the order's descriptors (its exit
    status is the child's)."""
    orders = socket.socket(fileno=0)
    while True:
        if not select.select([orders], [], [], REAP_S)[0]:
            reap()
            continue
        message, descriptors, _flags, _address = socket.recv_fds(orders, ORDER_BUFFER, 2)
        if not message:
            return 0
        reap()
        for descriptor in descriptors:      # what a child's own children must never inherit
            os.set_inheritable(descriptor, False)
        prepared = prepare(message)
        pid = fork()
        if pid == 0:
            orders.close()
            os._exit(run_child(prepared, descriptors))
        for descriptor in descriptors:
            os.close(descriptor)
        answer(orders, pid)


def answer(orders: socket.socket, pid: int) -> None:
    """The child's pid, and a pidfd of it (see the module's docstring)."""
    pidfd = os.pidfd_open(pid)
    try:
        socket.send_fds(orders, [str(pid).encode()], [pidfd])
    finally:
        os.close(pidfd)


def reap() -> None:
    """Collect the children that have ended (the worker watches each through its pidfd)."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


# ---- the worker's side ------------------------------------------------------------------
class ForkServer:
    """A fork server process the worker started (``python -m MODULE ARGS...``), restarted when
    it has died. ``fork`` may be called from any thread: orders go one at a time."""

    def __init__(self, module: str, args: list[str], env: Mapping[str, str],
                 quiet: bool = True) -> None:
        self.module = module
        self.args = args
        self.env = dict(env)
        self.quiet = quiet                   # else its output (the kernels') is the worker's
        self.on_start: Callable[[int], None] = lambda pid: None
        self._process: subprocess.Popen[bytes] | None = None
        self._orders: socket.socket | None = None
        self._lock = threading.Lock()

    def ensure(self) -> None:
        """Start the server now, if it is not running (from any thread)."""
        with self._lock:
            self._ensure()

    def _ensure(self) -> socket.socket:
        if self._process is None or self._orders is None or self._process.poll() is not None:
            self._close()
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            output = subprocess.DEVNULL if self.quiet else None
            try:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", self.module, *self.args], stdin=theirs.fileno(),
                    stdout=output, stderr=output, env=self.env, start_new_session=True)
            finally:
                theirs.close()
            self._orders = ours
            self.on_start(self._process.pid)
        return self._orders

    def fork(self, order: bytes, descriptors: list[int]) -> tuple[int, int]:
        """Send the order; the child's pid and a pidfd of it (ours to close). Raises
        ``OSError``, ``ValueError`` or ``TimeoutError`` when the server failed (it is then
        stopped, and started again by the next order)."""
        with self._lock:
            try:
                return self._fork(order, descriptors)
            except (OSError, ValueError, TimeoutError) as exc:
                ended = None if self._process is None else self._process.poll()
                log.warning("%s failed (%s; exit status %s): started again for the next order",
                            self.module, exc, ended)
                self._close()
                raise

    def _fork(self, order: bytes, descriptors: list[int]) -> tuple[int, int]:
        orders = self._ensure()
        socket.send_fds(orders, [order], descriptors)
        if not select.select([orders], [], [], REPLY_TIMEOUT_S)[0]:
            raise TimeoutError(f"{self.module} did not answer")
        reply, received, _flags, _address = socket.recv_fds(orders, 64, 1)
        if not reply or len(received) != 1:
            for descriptor in received:
                os.close(descriptor)
            raise ValueError(f"{self.module} ended" if not reply else "no pidfd in its answer")
        return int(reply), received[0]

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        process, self._process = self._process, None
        orders, self._orders = self._orders, None
        if orders is not None:
            orders.close()              # the server's end of file: it exits
        if process is None:
            return
        try:
            process.wait(2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
