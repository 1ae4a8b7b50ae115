"""The service's operations for retention; merged into ``operations.OPERATIONS``.

The service prunes (it owns the database and, as root, removes the files jobs made as their
owners): a member prunes their own jobs, an admin anyone's (everyone's unless one is named).
``du`` is open to every member: it names users and sizes, nothing of a job's content."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import InvalidJob, PermissionDenied
from ..model import check_text
from ..retention_model import check_space_by, prune_states

if TYPE_CHECKING:
    from .operations import Session


def prune(s: Session, cut: object = None, states: object = None, user: object = None,
          keep_data: object = True, dry_run: object = False) -> dict[str, Any]:
    if not isinstance(cut, (int, float)) or isinstance(cut, bool):
        raise InvalidJob(f"a prune needs the time it cuts at, not {cut!r}")
    whose = None if user is None else check_text("user", user)
    if not s.admin:
        if whose is not None and whose != s.caller.user:
            raise PermissionDenied(f"{s.caller.user} may not prune the jobs of {whose}: only a"
                                   " queue admin prunes others' jobs (see `jobmagics admin`)")
        whose = s.caller.user
    report = s.store.prune(cut=float(cut), states=prune_states(states), user=whose,  # type: ignore[arg-type]
                           keep_data=bool(keep_data), dry_run=bool(dry_run))
    return report.to_dict()


def du(s: Session, by: object = "user") -> dict[str, Any]:
    return s.store.du(check_space_by(by)).to_dict()


OPERATIONS: dict[str, Callable[..., Any]] = {fn.__name__: fn for fn in (prune, du)}
