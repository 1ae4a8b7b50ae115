"""The storage layer: the only code that speaks SQL. A narrow contract over ``jobs.db``."""
from __future__ import annotations

from ..paths import QueueLayout
from .db import BUSY_TIMEOUT_S, Database
from .dispatch import Capacity, DispatchMixin
from .jobs import JobsMixin

__all__ = ["Capacity", "Store"]


class Store(JobsMixin, DispatchMixin):
    """All reads and writes of one queue's database."""

    def __init__(self, layout: QueueLayout, *, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self.layout = layout
        self.db = Database(layout, busy_timeout=busy_timeout)

    def data_version(self) -> int:
        return self.db.data_version()

    def checkpoint(self) -> None:
        self.db.checkpoint()

    def integrity_check(self) -> str:
        return str(self.db.read("PRAGMA integrity_check")[0][0])

    def close(self) -> None:
        self.db.close()
