"""When a recurring schedule is due, as plain data (no I/O): ``--every 1h|30m|90s|1d``, a cron
expression in a time zone (``cronsim``, which knows the days a clock skips or repeats an hour),
and "the first due time after T".

An ``every`` rhythm is anchored: its due times are ``anchor + k * every`` (the anchor is when
the schedule was made), so a run submitted late does not push the next one later. A cron
rhythm's due times are the wall-clock times of its expression in its zone."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidJob

UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MIN_EVERY_S = 1.0                       # a due time a second apart is as fine as a worker can keep
MAX_EVERY_S = 366 * 86400.0
OVERLAPS = ("skip", "queue")            # a tick while the previous run is still going
MISSED_COUNTED = 10_000                 # due times counted when catching up (then "more than")
_EVERY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def parse_every(value: object) -> float:
    """Seconds from ``90s``, ``30m``, ``1h``, ``1d``, ``1.5h`` or a number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidJob(f"every must be a duration such as 30m, 1h or 1d, not {value!r:.80}")
    if isinstance(value, str):
        match = _EVERY_RE.match(value)
        if match is None:
            raise InvalidJob(f"bad duration {value!r}: give a number and a unit s, m, h or d"
                             " (90s, 30m, 1h, 1d)")
        seconds = float(match.group(1)) * UNITS[match.group(2) or "s"]
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or not MIN_EVERY_S <= seconds <= MAX_EVERY_S:
        raise InvalidJob(f"every must be between {MIN_EVERY_S:.0f} second and 366 days,"
                         f" not {value!r}")
    return seconds


def check_zone(tz: object) -> ZoneInfo:
    """The IANA time zone of this name (Europe/Berlin, UTC)."""
    if not isinstance(tz, str) or not tz or len(tz) > 100:
        raise InvalidJob(f"a time zone is a name such as Europe/Berlin, not {tz!r:.80}")
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidJob(f"unknown time zone {tz!r} (IANA names such as Europe/Berlin,"
                         " America/New_York, UTC)") from None


def check_cron(expression: object, zone: ZoneInfo) -> str:
    """A five-field cron expression (``0 */2 * * *``) that has a next time."""
    from cronsim import CronSim, CronSimError  # only schedules with --cron need it
    if not isinstance(expression, str) or not expression.strip() or len(expression) > 200:
        raise InvalidJob(f"a cron expression is five fields such as '0 */2 * * *',"
                         f" not {expression!r:.80}")
    text = " ".join(expression.split())
    if len(text.split(" ")) != 5:
        raise InvalidJob(f"bad cron expression {text!r}: it needs five fields (minute hour"
                         " day-of-month month day-of-week), e.g. '0 */2 * * *'")
    try:
        next(CronSim(text, datetime(2000, 1, 1, tzinfo=zone)))
    except (CronSimError, StopIteration, ValueError) as exc:
        reason = str(exc) or "it never matches"
        raise InvalidJob(f"bad cron expression {text!r}: {reason}") from None
    return text


def check_schedule_name(name: object) -> str:
    """Letters, digits, ``_ . -``, starting with a letter or digit (it names the schedule in
    the CLI and in REST paths)."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidJob(f"bad schedule name {name!r:.80}: use up to 64 letters, digits, '_',"
                         " '.', '-', starting with a letter or digit")
    return name


def check_overlap(overlap: object) -> str:
    if overlap not in OVERLAPS:
        raise InvalidJob(f"overlap is skip (default: no run while the previous one is still"
                         f" going) or queue, not {overlap!r:.80}")
    return str(overlap)


@dataclass(frozen=True)
class Rhythm:
    """When a schedule is due: every ``every`` seconds from its anchor, or at the times of the
    ``cron`` expression in zone ``tz``."""

    every: float | None = None
    cron: str | None = None
    tz: str | None = None

    @classmethod
    def of(cls, every: object = None, cron: object = None, tz: object = None) -> Rhythm:
        """The checked rhythm of what a user gave (exactly one of ``every`` and ``cron``)."""
        if (every is None) == (cron is None):
            raise InvalidJob("a schedule needs exactly one of every (e.g. 1h) and cron"
                             " (e.g. '0 */2 * * *')")
        if every is not None:
            if tz is not None:
                raise InvalidJob("a time zone goes with cron; every counts seconds, which no"
                                 " time zone changes")
            return cls(every=parse_every(every))
        name = "UTC" if tz is None else tz
        return cls(cron=check_cron(cron, check_zone(name)), tz=str(name))

    def next_after(self, anchor: float, after: float) -> float:
        """The first due time strictly after ``after`` (``every``: on the grid from ``anchor``)."""
        if self.every is not None:
            steps = math.floor((after - anchor) / self.every) + 1
            due = anchor + max(steps, 1) * self.every
            return due if due > after else due + self.every       # (float rounding)
        return next(self._cron_times(after))

    def missed(self, due: float, now: float) -> int:
        """How many due times from ``due`` up to ``now`` (both included) there are; counted up to
        ``MISSED_COUNTED``."""
        if now < due:
            return 0
        if self.every is not None:
            return min(MISSED_COUNTED, math.floor((now - due) / self.every) + 1)
        count = 1
        for later in self._cron_times(due):
            if later > now or count >= MISSED_COUNTED:
                break
            count += 1
        return count

    def _cron_times(self, after: float) -> CronTimes:
        return CronTimes(str(self.cron), ZoneInfo(self.tz or "UTC"), after)

    def describe(self) -> str:
        """"every 2h", "cron 0 */2 * * * (Europe/Berlin)"."""
        if self.every is not None:
            return f"every {format_every(self.every)}"
        return f"cron {self.cron} ({self.tz})"


class CronTimes:
    """The times (Unix seconds) of a cron expression in a zone, strictly after ``after``."""

    def __init__(self, expression: str, zone: ZoneInfo, after: float) -> None:
        from cronsim import CronSim
        start = datetime.fromtimestamp(after, zone)
        self._times = CronSim(expression, start)
        self._after = after

    def __iter__(self) -> CronTimes:
        return self

    def __next__(self) -> float:
        while True:
            due = next(self._times).timestamp()
            if due > self._after:
                return due


def format_every(seconds: float) -> str:
    """"90s", "30m", "2h", "1d", "1h30m" (the shortest form that says it exactly)."""
    whole = round(seconds)
    if whole != seconds or whole < 60:
        return f"{seconds:g}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        amount, whole = divmod(whole, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def clock(moment: float, tz: str | None = None) -> str:
    """A due time as a note says it: "14:00", or "14:00:02" when its seconds matter (in the
    rhythm's zone for cron, else local time)."""
    when = datetime.fromtimestamp(moment, ZoneInfo(tz)) if tz else datetime.fromtimestamp(moment)
    return when.strftime("%H:%M:%S" if when.second or when.microsecond else "%H:%M")


@dataclass
class ScheduleRecord:
    """One schedule as stored: its rhythm, what each run submits (``what``, one line per
    step, and ``steps``), and how its last tick went."""

    name: str
    user: str
    host: str
    every: float | None
    cron: str | None
    tz: str | None
    overlap: str
    what: str
    steps: int
    paused: bool
    next_at: float
    created_at: float
    last_due: float | None = None
    last_job: str | None = None
    last_state: str | None = None        # of last_job, as read
    last_note: str | None = None

    @property
    def rhythm(self) -> Rhythm:
        return Rhythm(self.every, self.cron, self.tz)

    def to_dict(self) -> dict[str, object]:
        from dataclasses import asdict
        return asdict(self) | {"rhythm": self.rhythm.describe()}
