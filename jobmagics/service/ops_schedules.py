"""The service's operations for recurring schedules; merged into ``operations.OPERATIONS``.

A schedule is added as the caller (the kernel names them, never the request), its runs
checked as ``submit`` checks a submission; pause, resume, remove and run-now are for its owner
or a queue admin (the store checks, as for ``apply``). Another account's schedule is listed
without what it runs (its code is its owner's)."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..checks import check_int
from ..errors import InvalidJob
from ..recurrence import Rhythm, ScheduleRecord, check_schedule_name
from . import protocol

if TYPE_CHECKING:
    from .operations import Session


def add_schedule(s: Session, name: str, rhythm: object, overlap: str,
                 specs: object) -> dict[str, Any]:
    if not isinstance(rhythm, list) or len(rhythm) != 3:
        raise InvalidJob("a schedule's rhythm is sent as [every, cron, tz]")
    if not isinstance(specs, list) or not specs:
        raise InvalidJob("a schedule runs at least one job")
    built = [protocol.spec_from_wire(data).validate() for data in specs]
    s.check_instrument_use(built)
    record = s.store.add_schedule(check_schedule_name(name), s.caller.user, s.host,
                                  Rhythm.of(*rhythm), overlap, built)
    return _visible(s, record)


def schedule(s: Session, name: str) -> dict[str, Any]:
    return _visible(s, s.store.schedule(check_schedule_name(name)))


def schedules(s: Session, user: str | None = None) -> list[dict[str, Any]]:
    if user is not None and not isinstance(user, str):
        raise InvalidJob("a user filter is a name")
    return [_visible(s, record) for record in s.store.schedules(user)]


def schedule_runs(s: Session, name: str, limit: int | None = 50) -> list[str]:
    checked = None if limit is None else check_int("limit", limit, 0, 1 << 62)
    return s.store.schedule_runs(check_schedule_name(name), checked)


def next_schedule_due(s: Session) -> float | None:
    return s.store.next_schedule_due()


def act_on_schedules(s: Session, action: str, names: object) -> list[list[Any]]:
    if not isinstance(names, list):
        raise InvalidJob("schedule names are sent as a list")
    done = s.store.act_on_schedules(str(action), [check_schedule_name(n) for n in names],
                                    s.caller.user, manager=s.caller.uid == 0)
    return [[name, ids] for name, ids in done]


def _visible(s: Session, record: ScheduleRecord) -> dict[str, Any]:
    if record.user != s.caller.user and not s.admin:
        record = dataclasses.replace(
            record, what=f"# hidden: only {record.user} and the queue admins read it")
    return dataclasses.asdict(record)


OPERATIONS: dict[str, Callable[..., Any]] = {op.__name__: op for op in (
    add_schedule, schedule, schedules, schedule_runs, next_schedule_due, act_on_schedules)}
