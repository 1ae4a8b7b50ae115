"""``Queue.schedule`` and the schedules' verbs (list, pause, resume, remove, run-now).

A schedule submits the same run again and again: one job (``q.schedule("nightly", every="1d",
command=[...])``) or a small chain (``steps=[{...}, {...}]``, each step after the one before:
"run Rabi, then update the config ``qubit`` from its fit"). What a run submits is built and
validated once, here, exactly as ``q.submit`` builds it; the workers submit each due run."""
from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidJob
from .formats import format_duration
from .job import Job
from .queue_part import QueuePart
from .recurrence import Rhythm, ScheduleRecord, check_schedule_name

if TYPE_CHECKING:
    pass


class Schedule:
    """A handle on one recurring schedule of a queue."""

    def __init__(self, queue: SchedulesAPI, record: ScheduleRecord) -> None:
        self.queue = queue
        self.name = record.name
        self.last_read = record

    def __repr__(self) -> str:
        record = self.last_read
        state = "paused" if record.paused else f"next {until(record.next_at)}"
        return f"<Schedule {self.name!r} {record.rhythm.describe()}, {state}>"

    def refresh(self) -> Schedule:
        self.last_read = self.queue.store.schedule(self.name)
        return self

    @property
    def next_at(self) -> float:
        """When its next run is due (Unix time; a paused schedule's is when it was paused)."""
        return self.refresh().last_read.next_at

    @property
    def paused(self) -> bool:
        return self.refresh().last_read.paused

    def pause(self) -> Schedule:
        self.queue.act_on_schedules("pause", [self.name])
        return self.refresh()

    def resume(self) -> Schedule:
        self.queue.act_on_schedules("resume", [self.name])
        return self.refresh()

    def remove(self) -> None:
        self.queue.act_on_schedules("remove", [self.name])

    def run_now(self) -> Job:
        """Submit a run now (its due times stay as they are); the run's last job."""
        ids = self.queue.act_on_schedules("run-now", [self.name])[0][1]
        return Job(self.queue, ids[-1])  # type: ignore[arg-type]

    def runs(self, limit: int | None = 50) -> list[Job]:
        """The jobs it submitted, newest first."""
        return [Job(self.queue, job_id)  # type: ignore[arg-type]
                for job_id in self.queue.store.schedule_runs(self.name, limit)]

    def to_dict(self) -> dict[str, Any]:
        return self.last_read.to_dict()


class SchedulesAPI(QueuePart):
    """A part of ``Queue``: recurring schedules."""

    def schedule(self, name: str, /, every: str | float | None = None, cron: str | None = None,
                 tz: str | None = None, overlap: str = "skip",
                 steps: Sequence[Mapping[str, Any]] | None = None,
                 **submission: Any) -> Schedule:
        """A schedule that submits a run ``every`` (``"1h"``, ``"30m"``, ``90``) or at the times
        of ``cron`` (``"0 */2 * * *"``, in ``tz``, default this machine's zone), from now on.

        A run is what ``q.submit(**submission)`` would submit (``command=``, ``code=``,
        ``function=``, ``experiment=``/``config=``, and settings), or ``steps``: a list of such
        submissions, each run after the one before. ``overlap="skip"`` (default) skips a due
        time while the previous run is still waiting, pending or running; ``"queue"`` submits
        it anyway. Everything is checked now, as ``submit`` checks it; nothing is stored if
        anything is wrong. A job without a ``name`` (the job's, a keyword like the other settings)
        is named after the schedule."""
        check_schedule_name(name)
        if steps is not None and submission:
            raise InvalidJob("give a run's submission, or steps=[...], not both")
        listed = [dict(submission)] if steps is None else _steps(steps)
        specs = [self._spec(**({"name": name} | step))[0] for step in listed]
        if cron is not None and tz is None:
            tz = local_zone()
        rhythm = Rhythm.of(every, cron, tz)
        record = self.store.add_schedule(name, self.user, self.host, rhythm, overlap, specs)
        return Schedule(self, record)

    def schedules(self, user: str | None = None) -> list[Schedule]:
        """The queue's schedules (of ``user``), by name."""
        return [Schedule(self, r) for r in self.store.schedules(user)]

    def get_schedule(self, name: str) -> Schedule:
        return Schedule(self, self.store.schedule(check_schedule_name(name)))

    def act_on_schedules(self, action: str, names: Sequence[str]) -> list[tuple[str, list[str]]]:
        """``pause``, ``resume``, ``remove`` or ``run-now`` every schedule named, or none (all
        are checked first); each name with the jobs it submitted (run-now)."""
        if isinstance(names, str) or not isinstance(names, Sequence):
            raise InvalidJob(f"names must be a list of schedule names, not {names!r:.80}")
        checked = [check_schedule_name(n) for n in names]
        return self.store.act_on_schedules(action, checked, self.user,
                                           manager=self.is_service_account)


def _steps(steps: object) -> list[dict[str, Any]]:
    if isinstance(steps, (str, Mapping)) or not isinstance(steps, Sequence) or not steps:
        raise InvalidJob("steps is a list of submissions (dicts of submit's keywords), each run"
                         " after the one before")
    if not all(isinstance(step, Mapping) for step in steps):
        raise InvalidJob("each step is a dict of submit's keywords, e.g. {'command': [...]}")
    return [dict(step) for step in steps]


def local_zone() -> str:
    """This machine's IANA time zone name ($TZ, or where /etc/localtime points; else UTC)."""
    named = os.environ.get("TZ", "").lstrip(":")
    if (named and "/" in named) or named == "UTC":
        return named
    try:
        target = Path(os.readlink("/etc/localtime"))
    except OSError:
        return "UTC"
    parts = target.parts
    if "zoneinfo" in parts:
        return "/".join(parts[parts.index("zoneinfo") + 1:])
    return "UTC"


def next_run(record: ScheduleRecord, now: float | None = None) -> str:
    """"14:00 (in 5m 00s)", with the date when it is not today; "paused"."""
    if record.paused:
        return "paused"
    now = time.time() if now is None else now
    when = datetime.fromtimestamp(record.next_at)
    shown = when.strftime("%H:%M:%S" if when.second else "%H:%M")
    if when.date() != datetime.fromtimestamp(now).date():
        shown = when.strftime("%Y-%m-%d ") + shown
    return f"{shown} ({until(record.next_at, now)})"


def until(moment: float, now: float | None = None) -> str:
    """"in 5m 00s", "now" (due and not yet submitted), as listings say a next run."""
    left = moment - (time.time() if now is None else now)
    return "now" if left <= 0 else f"in {format_duration(left)}"
