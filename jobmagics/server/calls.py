"""Queue calls off the event loop, on a bounded set of threads.

Every queue call (SQLite, log files, the queue folder) may block: on another process's write
lock, on a slow network filesystem. Run on Jupyter's event loop, one such call freezes the
whole server (its kernels, its file browser, ``/api/status``). So handlers hand them to
:class:`QueueCalls`, which runs each in a worker thread (``anyio.to_thread.run_sync``).

A thread stuck in SQLite cannot be cancelled, so two bounds keep a blocked queue from taking
the server down with it:

- at most ``threads`` queue calls run at once, on their own capacity limiter: Jupyter's own
  thread pool (its default limiter) stays free;
- a request that finds every one of them taken waits at most ``wait`` seconds for one, then
  fails with ``QueueBusy`` (503 "the queue is busy, try again").

How long one call may wait on the write lock is the queue's own busy timeout, which the server
opens short (``JobmagicsApp.busy_timeout``).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

from ..errors import QueueBusy

T = TypeVar("T")


class QueueCalls:
    """Runs blocking queue calls in at most ``threads`` worker threads at a time."""

    def __init__(self, threads: int, wait: float) -> None:
        self.threads = threads
        self.wait = wait
        self.in_flight = 0           # calls running in a thread now (for tests and logs)
        # anyio primitives belong to an event loop: made on first use, inside it.
        self._slots: anyio.Semaphore | None = None
        self._limiter: anyio.CapacityLimiter | None = None

    async def run(self, call: Callable[[], T]) -> T:
        """``call()`` in a worker thread; its exceptions propagate to the awaiting handler."""
        slots, limiter = self._primitives()
        taken = False
        with anyio.move_on_after(self.wait):
            await slots.acquire()
            taken = True
        if not taken:
            raise QueueBusy(f"the queue is busy, try again ({self.threads} requests to it are "
                            f"still waiting for it after {self.wait:g} s)")
        self.in_flight += 1
        try:
            return await anyio.to_thread.run_sync(call, limiter=limiter)
        finally:
            self.in_flight -= 1
            slots.release()

    def _primitives(self) -> tuple[anyio.Semaphore, anyio.CapacityLimiter]:
        if self._slots is None or self._limiter is None:
            self._slots = anyio.Semaphore(self.threads)
            self._limiter = anyio.CapacityLimiter(self.threads)
        return self._slots, self._limiter
