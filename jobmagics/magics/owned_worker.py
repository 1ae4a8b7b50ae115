"""``%job worker start|stop|status``: a worker process owned by this kernel.

It runs in its own session (interrupting the kernel must not stop it) and is stopped when
the kernel exits: by ``atexit`` on a clean shutdown, and by the kernel's death signal
(``kernel_worker.spawn``'s ``tie_to_parent``: no ``preexec_fn``, which is unsafe in a kernel
that runs threads) when the kernel is killed."""
from __future__ import annotations

import atexit
import contextlib
import os

from ..client import Queue

REGISTER_TIMEOUT_S = 30.0


class OwnedWorker:
    """A worker started by this kernel (``kernel_worker.spawn``), tied to the kernel's life."""

    def __init__(self, queue: Queue, args: list[str]) -> None:
        from kernel_worker import spawn  # jobmagics imports kernel_worker only to start one
        self.queue = queue
        self.handle = spawn(queue, *args, wait=False, tie_to_parent=True, new_session=True)
        self.pid = self.handle.pid
        self.log_path = self.handle.log_path

    def wait_registered(self) -> None:
        """Raises ``NoWorker`` with the worker's last line if it ends or does not register."""
        self.handle.wait_registered(REGISTER_TIMEOUT_S)

    @property
    def alive(self) -> bool:
        return self.handle.alive

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM: running jobs get the worker's shutdown grace, then go back to the queue."""
        return self.handle.stop(timeout=timeout)


_owned: list[OwnedWorker] = []


def start_worker(queue: Queue, slots: int | None, resources: list[str],
                 startup: str | None, serve_group: bool = False) -> OwnedWorker:
    """``serve_group``: it runs the jobs of every member of the queue's group, as this
    kernel's account (without it, only this account's jobs)."""
    args = ["--slots", str(slots)] if slots is not None else []
    if serve_group:
        args.append("--serve-group")
    for resource in resources:
        args += ["--resource", resource]
    if startup:
        args += ["--startup", os.path.abspath(os.path.expanduser(startup))]
    worker = OwnedWorker(queue, args)
    _owned.append(worker)          # before waiting: atexit stops it if the wait is interrupted
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
