"""The storage layer: the only code that speaks SQL. A narrow contract over ``jobs.db``."""
from __future__ import annotations

from pathlib import Path

from ..paths import QueueLayout
from .arrays import ArraysMixin
from .backup import Backup, backup
from .changes import CHANGE_TOPICS, versions_query
from .dashboard import DashboardMixin
from .db import BUSY_TIMEOUT_S, Database
from .dispatch import Capacity, DispatchMixin
from .edits import EditsMixin
from .integrity import read_verdict
from .jobs import JobsMixin, Submission
from .moves import MovesMixin
from .outbox import OutboxMixin
from .retention import RetentionMixin
from .schedules import SchedulesMixin
from .schema import CHANGE_TOPICS_VERSION, CHANGES_VERSION

__all__ = ["Capacity", "Store", "Submission"]


class Store(JobsMixin, ArraysMixin, MovesMixin, DispatchMixin, EditsMixin, SchedulesMixin,
            OutboxMixin, RetentionMixin, DashboardMixin):
    """All reads and writes of one queue's database: submission and reading (``jobs``), job
    arrays (``arrays``), the user's moves (``moves``) and the worker's side (``dispatch``),
    each a mixin that needs only ``self.db``. None of them writes a job's state: each takes
    its steps through ``lifecycle``, the one module that does."""

    def __init__(self, layout: QueueLayout, *, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        self.layout = layout
        self.db = Database(layout, busy_timeout=busy_timeout)

    def data_version(self) -> int:
        return self.db.data_version()

    def change_version(self) -> int:
        """Moves when what a live view shows changes (jobs, arrays, resources, settings,
        schedules, the workers' list), not with a worker's heartbeat: views re-read on this.
        (A queue read as it is, older than v7: ``data_version``, which moves with both.)"""
        if not self._schema_has(CHANGES_VERSION):
            return self.data_version()
        return int(self.db.read("SELECT n FROM changes WHERE id = 1")[0][0])

    def change_versions(self) -> dict[str, int]:
        """``change_version`` as ``"n"`` and each topic's own count (``CHANGE_TOPICS``): a part
        of a view reads again only when its topic moved. (Older than v8: every topic is ``n``,
        as if each moved with every change.)"""
        if not self._schema_has(CHANGE_TOPICS_VERSION):
            n = self.change_version()
            return {"n": n} | dict.fromkeys(CHANGE_TOPICS, n)
        n, *counts = self.db.read(versions_query())[0]
        return {"n": int(n)} | dict(zip(CHANGE_TOPICS, map(int, counts), strict=True))

    def checkpoint(self) -> None:
        self.db.checkpoint()

    def integrity_check(self) -> str:
        return str(self.db.read("PRAGMA integrity_check")[0][0])

    def known_damage(self) -> str | None:
        """What an integrity check of this very file found wrong (None: sound or unchecked);
        writes are refused then, reads still answer where the damage is not in the way."""
        verdict = read_verdict(self.layout)
        if verdict is None or verdict.ok or not verdict.applies_to(self.db.guard.opened):
            return None
        return verdict.detail

    def backup(self, dest: Path) -> Backup:
        """A consistent copy of the database at ``dest`` (see ``store.backup``)."""
        return backup(self.db, dest)

    def close(self) -> None:
        self.db.close()
