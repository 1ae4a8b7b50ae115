"""Retention as plain data: an age (``30d``), the states a prune may take, what a prune
reports (``PruneReport``) and where the space goes (``SpaceReport``). No I/O here: the store
fills them in, the service sends them as dicts, the doors show them."""
from __future__ import annotations

import dataclasses
import datetime
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidJob
from .model import TERMINAL, State, parse_states

# In the order listings show them.
FINISHED = tuple(s for s in State if s in TERMINAL)
_AGE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$", re.IGNORECASE)
_UNIT_S = {"m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
AGE_HELP = "an age such as 30d, 12h, 90m or 2w (minutes, hours, days, weeks)"
SPACE_BY = ("user", "state")
NO_JOB = "(no job)"              # du's row for files whose job is gone (a prune cut short)


def parse_age(value: object) -> float:
    """Seconds in ``30d``, ``12h``, ``90m``, ``2w`` (or a ``timedelta``); above zero."""
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str) and (found := _AGE_RE.match(value)):
        seconds = float(found.group(1)) * _UNIT_S[found.group(2).lower()]
    else:
        raise InvalidJob(f"{value!r} is not an age: give {AGE_HELP}")
    if not seconds > 0:
        raise InvalidJob(f"{value!r} is not an age: it must be above zero ({AGE_HELP})")
    return seconds


def prune_states(value: str | State | Sequence[str | State] | None) -> list[State]:
    """The finished states a prune takes (default: all four); an active state is refused."""
    states = parse_states(value)
    if states is None:
        return list(FINISHED)
    if not states:
        raise InvalidJob("give at least one state to prune")
    for state in states:
        if state not in TERMINAL:
            raise InvalidJob(f"prune removes finished jobs only: {state.value} is not a finished"
                             f" state ({', '.join(s.value for s in FINISHED)})")
    return sorted(set(states), key=FINISHED.index)


def check_space_by(value: object) -> str:
    if value not in SPACE_BY:
        raise InvalidJob(f"du --by is one of {', '.join(SPACE_BY)}, not {value!r}")
    return str(value)


@dataclass
class PruneReport:
    """What a prune removed (or, with ``dry_run``, would remove) and what it kept and why."""

    dry_run: bool
    cut: float                         # jobs that ended before this time
    user: str | None                   # whose jobs (None: everyone's)
    states: list[str]
    keep_data: bool
    jobs: int = 0
    arrays: int = 0                    # of which whole arrays (their elements are in jobs)
    files: int = 0                     # job files removed (orphans included)
    bytes: int = 0                     # their size on disk
    orphan_files: int = 0              # files of jobs whose rows were already gone
    data_kept: int = 0                 # data files left in place (keep_data)
    kept_parents: int = 0              # finished, but a job after them still waits or runs
    kept_arrays: int = 0               # arrays not every element of which may go yet
    kept_unsent: int = 0               # their notifications are not sent yet
    db_before: int = 0                 # bytes of jobs.db (and its WAL) before
    db_after: int = 0
    pages_freed: int | None = None     # None: not measured (a dry run)
    vacuum: str = ""                   # what was done to shrink the database file
    seconds: float = 0.0
    longest_batch_s: float = 0.0       # the longest write transaction (what a worker waits)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PruneReport:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class SpaceRow:
    """One user's (or state's) share: jobs and the bytes of each kind of file."""

    key: str
    jobs: int = 0
    logs: int = 0
    outputs: int = 0
    data: int = 0
    snapshots: int = 0
    other: int = 0                     # batch scripts and reports, results/

    @property
    def total(self) -> int:
        return self.logs + self.outputs + self.data + self.snapshots + self.other

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "total": self.total}


@dataclass
class SpaceReport:
    """Where a queue's space goes: per user (or state), and its database file."""

    by: str
    rows: list[SpaceRow] = field(default_factory=list)
    db_bytes: int = 0
    wal_bytes: int = 0
    page_size: int = 0
    pages: int = 0
    free_pages: int = 0
    auto_vacuum: str = "none"
    seconds: float = 0.0

    @property
    def files_total(self) -> int:
        return sum(row.total for row in self.rows)

    def to_dict(self) -> dict[str, Any]:
        body = dataclasses.asdict(self)
        body["rows"] = [row.to_dict() for row in self.rows]
        return body

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SpaceReport:
        row_names = {f.name for f in dataclasses.fields(SpaceRow)}
        rows = [SpaceRow(**{k: v for k, v in r.items() if k in row_names})
                for r in data.get("rows", [])]
        names = {f.name for f in dataclasses.fields(cls)} - {"rows"}
        return cls(rows=rows, **{k: v for k, v in data.items() if k in names})
