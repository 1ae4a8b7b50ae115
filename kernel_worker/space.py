"""The disk under the queue: notice when it fills, find the jobs that were writing, keep a
reserve so the worker can still record what happened, and say when there is room again."""
from __future__ import annotations

import contextlib
import logging
import os

from jobmagics.paths import QueueLayout, disk_full, free_space

log = logging.getLogger("kernel_worker")
DISK_FULL = "disk full while writing its log"
RESERVE_BYTES = 1 << 20        # released when the disk fills: room for SQLite to record outcomes
RESUME_ABOVE = 2 << 20         # claim again once this much is free besides the reserve


class DiskSpace:
    def __init__(self, layout: QueueLayout) -> None:
        self.layout = layout
        self.full = False
        self._log_sizes: dict[str, int] = {}

    def hold_reserve(self) -> None:
        """Best effort: a queue on a nearly full disk starts without one."""
        reserve = self.layout.reserve
        try:
            if reserve.exists() and reserve.stat().st_size >= RESERVE_BYTES:
                return
            if free_space(self.layout.root) < RESERVE_BYTES + RESUME_ABOVE:
                return
            with open(reserve, "wb") as handle:
                os.posix_fallocate(handle.fileno(), 0, RESERVE_BYTES)
        except OSError:
            with contextlib.suppress(OSError):
                reserve.unlink()

    def release_reserve(self) -> bool:
        try:
            self.layout.reserve.unlink()
            return True
        except OSError:
            return False

    def is_full(self) -> bool:
        """Full now (a statvfs): said once when it becomes so; room_again() says when not."""
        if not self.full and disk_full(self.layout.root / "logs"):
            self.full = True
            log.warning("the disk holding %s is full: no new jobs until there is room; jobs writing"
                        " to it are stopped", self.layout.root)
        return self.full

    def room_again(self) -> bool:
        """There is room again (it was full): the reserve is taken back."""
        if not self.full or free_space(self.layout.root) < RESERVE_BYTES + RESUME_ABOVE:
            return False
        self.full = False
        self.hold_reserve()
        log.info("the disk holding %s has room again: claiming jobs again", self.layout.root)
        return True

    def writing(self, job_ids: list[str]) -> set[str]:
        """The jobs whose logs grew since the last look (the ones a full disk stops)."""
        grew = set()
        sizes = {}
        for job_id in job_ids:
            sizes[job_id] = self._size(job_id)
            if sizes[job_id] != self._log_sizes.get(job_id, 0):
                grew.add(job_id)
        self._log_sizes = sizes
        return grew

    def _size(self, job_id: str) -> int:
        total = 0
        for path in (self.layout.log(job_id), self.layout.stderr(job_id)):
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total
