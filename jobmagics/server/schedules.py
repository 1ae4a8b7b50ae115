"""The routes of recurring schedules: ``GET schedules`` (every schedule with its next run and
its last, and whether the caller may act on it) and ``POST schedules/<name>/pause``,
``.../resume``, ``.../run-now`` (its owner or a queue admin), each answering the schedule as
listed (run-now: and the ids of the jobs it submitted)."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..schedules import Schedule
from .handlers import JobmagicsHandler
from .views import may_act_on

if TYPE_CHECKING:
    import jobmagics

ACTIONS = ("pause", "resume", "run-now")


def listed_schedule(schedule: Schedule, may_act: bool, now: float) -> dict[str, Any]:
    """A schedule as the sidebar shows it: its record, its rhythm in words, the seconds until
    its next run (``next_in``) and whether the caller may pause, resume or run it."""
    record = schedule.last_read
    return record.to_dict() | {"next_in": None if record.paused else record.next_at - now,
                               "may_act": may_act}


class SchedulesHandler(JobmagicsHandler):
    """GET every schedule of the queue, by name."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        def page(q: jobmagics.Queue) -> dict[str, Any]:
            version = q.change_version()
            may, now = may_act_on(q), time.time()
            return {"schedules": [listed_schedule(s, may(s.last_read.user), now)
                                  for s in q.schedules()],
                    "user": q.user, "version": version}

        await self.answer(page)


class ScheduleActionHandler(JobmagicsHandler):
    """POST pause, resume or run-now of one schedule."""

    @web.authenticated
    @authorized
    async def post(self, name: str, action: str) -> None:
        def act(q: jobmagics.Queue) -> dict[str, Any]:
            ((_, job_ids),) = q.act_on_schedules(action, [name])
            schedule = q.get_schedule(name)
            return {"schedule": listed_schedule(schedule, True, time.time()), "jobs": job_ids}

        await self.answer(act)


ROUTES: list[tuple[str, Any]] = [      # (path under /jobmagics/api/, handler class)
    (r"schedules", SchedulesHandler),
    (rf"schedules/(?P<name>[^/]+)/(?P<action>{'|'.join(ACTIONS)})", ScheduleActionHandler),
]
