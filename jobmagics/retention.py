"""``Queue.prune`` and ``Queue.du``: removing finished jobs and their files, and where the space
goes."""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import PermissionDenied
from .model import State, check_text
from .queue_part import QueuePart
from .retention_model import PruneReport, SpaceReport, check_space_by, parse_age, prune_states

if TYPE_CHECKING:
    pass


class RetentionAPI(QueuePart):
    """A part of ``Queue``: ``prune`` and ``du``."""

    def prune(self, older_than: Any, *, states: str | State | Sequence[str | State] | None = None,
              user: str | None = None, keep_data: bool = True,
              dry_run: bool = False) -> PruneReport:
        """Remove finished jobs (in ``states``; default all four finished states) that ended
        more than ``older_than`` ago ("30d", "12h", "90m", "2w" or a ``timedelta``), with
        their rows and files (``keep_data``, the default: leave ``data/<id>.h5``). A job that
        something still waiting or running depends on stays, and an array goes whole or not
        at all.
        ``user``: whose jobs (yours by default; a queue admin prunes everyone's unless given
        one). ``dry_run``: change nothing, report the same."""
        cut = time.time() - parse_age(older_than)
        chosen = prune_states(states)
        whose = self._whose_jobs(None if user is None else check_text("user", user))
        return self.store.prune(cut=cut, states=chosen, user=whose, keep_data=bool(keep_data),
                                dry_run=bool(dry_run))

    def du(self, by: str = "user") -> SpaceReport:
        """Where the queue's space goes: per user (or ``by="state"``) the jobs and the bytes
        of their logs, outputs, data and config snapshots; the database's size."""
        return self.store.du(check_space_by(by))

    def _whose_jobs(self, user: str | None) -> str | None:
        """The user whose jobs a prune takes, None for everyone's. Admins (and a system
        queue's own account) prune anyone's, everyone's by default; others their own, and in
        a queue nobody shares (a personal one) that is every job in it."""
        manager = self.is_admin() or (self.is_service_account)
        if manager:
            return user
        if user is not None and user != self.user:
            raise PermissionDenied(f"{self.user} may not prune the jobs of {user}: only a queue"
                                   " admin prunes others' jobs (see `jobmagics admin`)")
        personal = not self.layout.is_shared() and not self.layout.is_system()
        return None if personal and user is None else self.user
