"""The service's operations for edits (moving and changing jobs that have not started); merged
into ``operations.OPERATIONS``. The caller is the socket's peer, never the request: the store
checks that it owns the job or is a queue admin; a changed job must still pass the instrument
policy a submission passes (holding the station's exclusive resource)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import InvalidJob
from ..model import check_job_id

if TYPE_CHECKING:
    from .operations import Session


def move(s: Session, job_id: str, where: str, other: str | None = None) -> list[Any]:
    record = s.store.move(check_job_id(job_id), where,
                          None if other is None else check_job_id(other), s.caller.user,
                          manager=s.caller.uid == 0)
    return s.visible(record)


def update(s: Session, job_ids: object, changes: object,
           config: object = None) -> list[list[Any]]:
    if not isinstance(job_ids, list) or not isinstance(changes, dict) or \
            (config is not None and not isinstance(config, dict)):
        raise InvalidJob("update takes a list of job ids, a mapping of settings and a config")
    records = s.store.update([check_job_id(i) for i in job_ids], changes, config,
                             s.caller.user, manager=s.caller.uid == 0,
                             vet=s.check_instrument_use)
    return [s.visible(r) for r in records]


OPERATIONS: dict[str, Callable[..., Any]] = {fn.__name__: fn for fn in (move, update)}
