"""The service's operations for notifications and the declared queue settings; merged into
``operations.OPERATIONS``. Anyone in the queue's group reads a job's notifications (as they
read its record) and the settings; only a queue admin changes a setting."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..model import check_job_id
from ..queue_settings import queue_setting

if TYPE_CHECKING:
    from .operations import Session


def notifications(s: Session, job_id: str) -> list[dict[str, Any]]:
    return [n.to_dict() for n in s.store.notifications(check_job_id(job_id))]


def queue_settings(s: Session) -> dict[str, Any]:
    return s.store.queue_settings()


def set_queue_setting(s: Session, name: object, value: Any) -> None:
    """A declared setting only (the internal ones, admins and the like, have their own
    operations), its value checked again here: the client's word is not taken for it."""
    declared = queue_setting(name if isinstance(name, str) else repr(name))
    s.require_admin(f"change the queue setting {declared.name}")
    parsed = None if value is None else declared.parse(
        ("yes" if value else "no") if isinstance(value, bool) else str(value))
    s.store.set_queue_setting(declared.name, parsed)


OPERATIONS: dict[str, Callable[..., Any]] = {op.__name__: op for op in (
    notifications, queue_settings, set_queue_setting)}
