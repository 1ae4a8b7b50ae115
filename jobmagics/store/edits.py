"""A user's edits of a job that has not started: its place in line (``move``) and its settings
(``update``), each an event in its history.

The claim order is ``schema.LINE``: priority, then a job's key ``ifnull(place, seq)`` (its
submission order until a user moves it). A move reorders a waiting or pending job among the
waiting and pending jobs *of its priority* (its line) by giving it a key between two
neighbours' keys: ``top`` below the smallest, ``bottom`` above the largest but below the next
submission's ``seq`` (jobs submitted later still come after it), ``before``/``after`` another
job of the same line halfway to that job's neighbour. When halving leaves no room between two
keys (a few dozen moves into the same gap), the keys crowded in that unit are spread evenly
across it first, keeping their order.
A change of priority puts the job back in submission order within its new priority.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import math
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..checks import resource_counts
from ..errors import InvalidJob, InvalidTransition, JobNotFound
from ..fields import declared_fields, editable
from ..model import JobRecord, JobSettings, JobSpec, format_memory
from . import lifecycle, rules
from .arrays import array_elements_for
from .db import Database
from .moves import authorize
from .rows import dumps
from .rules import EDITABLE_STATES
from .schema import SchemaAware

PLACES = ("top", "bottom", "before", "after")
CONFIG = "config"            # what ``update`` calls the keys of an experiment's config it sets
_KEY = "ifnull(place, seq)"
_JSON_FIELDS = frozenset(f.name for f in declared_fields(JobSettings) if f.json)
_BODY_FIELDS = tuple(f.name for f in dataclasses.fields(JobSettings))

# Checks the edited specs before they are written (the service's instrument policy).
Vet = Callable[[Sequence[JobSpec]], None]


def check_editable(job: JobRecord) -> None:
    """Only a job that has not started may move or change (``rules.edit_refusal``)."""
    lifecycle.refuse(rules.edit_refusal(job))


def _refuse_array(conn: sqlite3.Connection, job_id: str, verb: str) -> None:
    if conn.execute("SELECT 1 FROM arrays WHERE id = ?", (job_id,)).fetchone() is not None:
        raise InvalidJob(f"{job_id} is an array: {verb} its elements one by one ({job_id}_0,"
                         f" ...), or give them all a priority (jobmagics set {job_id} --priority"
                         " N)")


def _jobs_to_change(conn: sqlite3.Connection,
                    ids: Sequence[str]) -> tuple[list[JobRecord], list[JobRecord]]:
    """The jobs named, an array's id standing for its waiting and pending elements; and whose
    owner must allow it (an array's first element stands for the array)."""
    jobs: list[JobRecord] = []
    owners: list[JobRecord] = []
    for job_id in ids:
        try:
            jobs.append(lifecycle.fetch_job(conn, job_id))
            continue
        except JobNotFound:
            elements = array_elements_for(conn, job_id, lambda j: j.state in EDITABLE_STATES)
            if elements is None:
                raise
        if not elements.applicable:
            raise elements.refusal("change")
        jobs.extend(elements.applicable)
        owners.append(elements.every[0])
    unique = list({job.id: job for job in jobs}.values())
    return unique, unique + owners


def _fetch(conn: sqlite3.Connection, job_id: str, verb: str) -> JobRecord:
    try:
        return lifecycle.fetch_job(conn, job_id)
    except JobNotFound:
        _refuse_array(conn, job_id, verb)
        raise


# ---- a job's place in line ------------------------------------------------------------------
def _key(conn: sqlite3.Connection, job_id: str) -> float:
    return float(conn.execute(f"SELECT {_KEY} FROM jobs WHERE id = ?", (job_id,)).fetchone()[0])


def _line_edge(conn: sqlite3.Connection, job: JobRecord, largest: bool,
               beyond: float | None = None) -> float | None:
    """The smallest (or largest) key of the job's line, only among keys above (or below)
    ``beyond`` when given; None: there is none. The job's own key counts: a key next to it
    keeps the job where it should be all the same."""
    found = []
    for state in EDITABLE_STATES:
        # the state as a literal (a constant): the pending half is then a step in the claim
        # index, which is partial on state = 'pending' (a parameter would not match it)
        condition = f"state = '{state.value}' AND priority = ?"
        params: list[Any] = [job.priority]
        if beyond is not None:
            condition += f" AND {_KEY} {'<' if largest else '>'} ?"
            params.append(beyond)
        row = conn.execute(f"SELECT {'max' if largest else 'min'}({_KEY}) FROM jobs"
                           f" WHERE {condition}", params).fetchone()
        if row[0] is not None:
            found.append(float(row[0]))
    if not found:
        return None
    return max(found) if largest else min(found)


def _next_seq(conn: sqlite3.Connection) -> float:
    """The ``seq`` the next submission gets (one above the largest)."""
    return float(conn.execute("SELECT ifnull(max(seq), 0) FROM jobs").fetchone()[0]) + 1


def _gap(conn: sqlite3.Connection, job: JobRecord, where: str,
         other: str | None) -> tuple[float | None, float | None]:
    """The keys the job's new key goes between (None: no bound on that side; both None: the
    job is alone in its line)."""
    if where == "top":
        return None, _line_edge(conn, job, largest=False)
    if where == "bottom":
        last = _line_edge(conn, job, largest=True)
        return (None, None) if last is None else (last, _next_seq(conn))
    assert other is not None
    anchor = _key(conn, other)
    if where == "before":
        return _line_edge(conn, job, largest=True, beyond=anchor), anchor
    following = _line_edge(conn, job, largest=False, beyond=anchor)
    return anchor, following if following is not None else max(_next_seq(conn), anchor + 1)


def _between(low: float | None, high: float | None) -> float | None:
    if high is None:
        return None
    if low is None:
        return high - 1
    middle = (low + high) / 2
    return middle if low < middle < high else None


def _respread(conn: sqlite3.Connection, job: JobRecord, near: float) -> None:
    """Room again next to ``near``: the keys of the job's line in the unit ``[a, a + 1)`` that
    holds it (where a few dozen halvings crowded them) spread evenly across that unit, in their
    order. No key outside the unit moves, and no key leaves it: the line keeps its order."""
    start = float(math.floor(near))
    crowd = " UNION ALL ".join(      # literal states: each half a range of an index (above)
        f"SELECT id, {_KEY} AS key FROM jobs WHERE state = '{state.value}' AND priority = ?"
        f" AND {_KEY} >= ? AND {_KEY} < ?" for state in EDITABLE_STATES)
    rows = conn.execute(crowd, [job.priority, start, start + 1] * len(EDITABLE_STATES))
    ids = [job_id for job_id, _ in sorted(rows, key=lambda row: row[1])]
    step = 1 / (len(ids) + 1)
    conn.executemany("UPDATE jobs SET place = ? WHERE id = ?",
                     [(start + step * (index + 1), job_id) for index, job_id in enumerate(ids)])


def _check_anchor(conn: sqlite3.Connection, job: JobRecord, other: str, where: str) -> None:
    """``other``, the job to move before or after, must stand in the same line."""
    if other == job.id:
        raise InvalidJob(f"cannot move {job.id} {where} itself")
    anchor = _fetch(conn, other, "place jobs relative to")
    if anchor.state not in EDITABLE_STATES:
        raise InvalidTransition(f"{other} is {anchor.state.value}: a job is placed among waiting"
                                " or pending jobs only")
    if anchor.priority != job.priority:
        raise InvalidJob(f"{job.id} has priority {job.priority} and {other} priority"
                         f" {anchor.priority}: a move keeps a job among the jobs of its priority"
                         f" (jobmagics set {job.id} --priority {anchor.priority} first)")
    if sorted(anchor.resources) != sorted(job.resources):
        raise InvalidJob(f"{job.id} waits for {_resources_text(job)}, {other} for"
                         f" {_resources_text(anchor)}: they are not in the same line")


def _resources_text(job: JobRecord) -> str:
    return ", ".join(job.resources) or "nothing"


def place_text(where: str, other: str | None) -> str:
    return f"{where} {other}" if other else f"to the {where}"


# ---- a job's settings ---------------------------------------------------------------------
def edited_spec(job: JobRecord, changes: Mapping[str, Any],
                config: Mapping[str, Any] | None = None) -> JobSpec:
    """The job's spec with ``changes`` (editable settings by field name) and ``config`` (keys of
    an experiment's config) applied, validated as a submission is (plain data, no I/O)."""
    allowed = editable(JobSettings)
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise InvalidJob(f"{unknown[0]!r} cannot be changed; what can: {', '.join(allowed)}"
                         f" and {CONFIG} (an experiment's)")
    values = {name: copy.deepcopy(getattr(job, name)) for name in _BODY_FIELDS}
    values.update(copy.deepcopy(dict(changes)))
    if config:
        if job.kind != "experiment" or not values.get("experiment"):
            raise InvalidJob(f"{job.id} is a {job.kind} job: only an experiment has a config")
        values["experiment"]["config"] = {**values["experiment"].get("config", {}), **config}
    # a function job's body is its pickle, which is never read here: its presence is enough
    payload = b"" if job.kind == "function" else None
    return JobSpec(**values, payload=payload).validate()


def _check_known_resources(conn: sqlite3.Connection, spec: JobSpec) -> None:
    """As at submission: a job may only wait for resources some worker serves (or served)."""
    known = {row[0] for row in conn.execute("SELECT name FROM resources")}
    unknown = [r for r in resource_counts(spec.resources) if r not in known]
    if unknown:
        raise InvalidJob(f"unknown resource {unknown[0]!r}; this queue knows "
                         f"{', '.join(sorted(known)) or 'none'} (a worker started with "
                         f"--resource {unknown[0]} adds it)")


def _differences(job: JobRecord, spec: JobSpec, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in names
            if getattr(spec, name) != getattr(job, name)}


def value_text(value: Any, name: str = "") -> str:
    """A setting's value in an event's detail or a door's answer (None, []: ``none``)."""
    if name == "memory" and isinstance(value, int):
        return format_memory(value)
    if value is None or value == []:
        return "none"
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def change_text(job: JobRecord, new: Mapping[str, Any]) -> str:
    """``priority 0 -> 5, timeout none -> 600`` (an experiment's config key by key)."""
    parts = []
    for name, value in new.items():
        if name == "experiment":
            old = (job.experiment or {}).get("config", {})
            parts += [f"config {key} {value_text(old.get(key))} -> {value_text(item)}"
                      for key, item in value.get("config", {}).items() if old.get(key) != item]
        else:
            parts.append(f"{name} {value_text(getattr(job, name), name)} ->"
                         f" {value_text(value, name)}")
    return ", ".join(parts)


class EditsMixin(SchemaAware):
    """Moving and changing jobs that have not started; needs only ``self.db``."""

    db: Database

    def move(self, job_id: str, where: str, other: str | None, actor: str, *,
             manager: bool = False) -> JobRecord:
        """Put a waiting or pending job at the ``top`` or ``bottom`` of its line, or ``before``
        or ``after`` job ``other`` of the same line (same priority, same resources). Raises,
        changing nothing, if the job or ``other`` does not exist or cannot be placed so, or
        ``actor`` may not move it (only its owner or a queue admin may). Returns the job."""
        if where not in PLACES:
            raise InvalidJob(f"a job moves to one of {', '.join(PLACES)}, not {where!r}")
        if (other is None) != (where in ("top", "bottom")):
            raise InvalidJob("top and bottom take no other job; before and after need one")
        now = time.time()
        with self.db.write() as conn:
            job = _fetch(conn, job_id, "move")
            if not manager:
                authorize(conn, [job], actor, "move")
            check_editable(job)
            if other is not None:
                _check_anchor(conn, job, other, where)
            self._place(conn, job, where, other)
            lifecycle.record_event(conn, job.id, now, job.state,
                                   f"{actor} moved it {place_text(where, other)}")
            return lifecycle.fetch_job(conn, job.id)

    @staticmethod
    def _place(conn: sqlite3.Connection, job: JobRecord, where: str, other: str | None) -> None:
        low, high = _gap(conn, job, where, other)
        if low is None and high is None:
            return                                     # alone in its line: it is first already
        key = _between(low, high)
        if key is None:
            assert low is not None           # below the smallest key there is always room
            _respread(conn, job, low)
            key = _between(*_gap(conn, job, where, other))
        conn.execute("UPDATE jobs SET place = ? WHERE id = ?", (key, job.id))

    def update(self, job_ids: Sequence[str], changes: Mapping[str, Any],
               config: Mapping[str, Any] | None, actor: str, *, manager: bool = False,
               vet: Vet | None = None) -> list[JobRecord]:
        """Change settings (``changes``: editable settings by field name) and keys of an
        experiment's ``config`` of every job in ``job_ids`` (an array's id: its waiting and
        pending elements), or of none: each job is checked
        (it exists, ``actor`` may change it, it has not started, the edited job is valid as a
        submission, ``vet`` accepts it) before any is changed, in one transaction. Each job
        that changed records ``"<actor> set priority 0 -> 5, ..."``. Returns the jobs."""
        ids = list(dict.fromkeys(job_ids))
        if not ids:
            raise InvalidJob("set needs at least one job id")
        if not changes and not config:
            raise InvalidJob("nothing to change: give at least one setting"
                             f" ({', '.join(editable(JobSettings))}, or {CONFIG})")
        now = time.time()
        with self.db.write() as conn:
            jobs, owners = _jobs_to_change(conn, ids)
            if not manager:
                authorize(conn, owners, actor, "change")
            for job in jobs:
                check_editable(job)
            specs = [edited_spec(job, changes, config) for job in jobs]
            if "resources" in changes:
                for spec in specs:
                    _check_known_resources(conn, spec)
            if vet is not None:
                vet(specs)
            names = [f.name for f in editable(JobSettings).values() if f.name in changes]
            names += ["experiment"] if config else []          # (declaration order: the event)
            for job, spec in zip(jobs, specs, strict=True):
                self._write_changes(conn, job, _differences(job, spec, names), actor, now)
            return [lifecycle.fetch_job(conn, job.id) for job in jobs]

    @staticmethod
    def _write_changes(conn: sqlite3.Connection, job: JobRecord, new: dict[str, Any],
                       actor: str, now: float) -> None:
        if not new:
            return
        columns = {name: dumps(value) if name in _JSON_FIELDS else value
                   for name, value in new.items()}
        if "priority" in new:
            columns["place"] = None          # in submission order among its new priority
        assignments = ", ".join(f"{name} = ?" for name in columns)   # declared names only
        conn.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*columns.values(), job.id))
        lifecycle.record_event(conn, job.id, now, job.state,
                               f"{actor} set {change_text(job, new)}")
