"""What the REST API says about a job: brief in listings, whole on the one-job route, and
its log in chunks.

A job's code (up to 16 MiB), its environment, an experiment's config and its options (which
may hold a whole stdin) can be big, and a listing shows up to a thousand jobs every time the
queue moves: listings carry a one-line ``summary`` instead and ``"brief": true``. The one-job
route (``GET /jobmagics/api/jobs/<id>``) carries the code, the config, the options and, to its
owner or a queue admin, the environment. Pickled payloads (a function job's callable) are never
served: nobody unpickles what another account wrote.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import JobNotFound
from ..job import Job
from ..job_data import run_facts
from ..kinds import describe
from ..messages import sentence
from ..model import JobRecord
from ..paths import JOB_FILES
from ..store import rules

if TYPE_CHECKING:
    from ..client import Queue
    from ..job_array import JobArray

LOG_CHUNK = 1 << 20          # at most 1 MiB of log per request
SUMMARY_CHARS = 200
LISTED_COMMAND_CHARS = 4096     # a longer command line is listed by its summary alone
BIG_FIELDS = frozenset({"code", "env", "options", "payload"})
LISTED_FIELDS = [f.name for f in dataclasses.fields(JobRecord) if f.name not in BIG_FIELDS]


def summary(record: JobRecord) -> str:
    """What the job runs (as its kind describes it), on one line of at most SUMMARY_CHARS
    characters."""
    return describe(record, SUMMARY_CHARS)


def listed(job: Job, may: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """A job as listings show it: every field but the big ones, plus its summary and ``may``,
    the actions the current user may take on it now (``may``: ``may_act_on``, read once for a
    page). Built field by field (``dataclasses.asdict`` deep-copies: 5x the cost, at 200 jobs
    a page)."""
    record = job.last_read          # as the listing read it: one page is one moment, read once
    data = {name: getattr(record, name) for name in LISTED_FIELDS}
    data["state"] = record.state.value
    if record.experiment is not None:
        data["experiment"] = {"target": record.experiment.get("target")}
    if record.command is not None and sum(len(a) for a in record.command) > LISTED_COMMAND_CHARS:
        data["command"] = None
    layout = job.queue.layout
    data.update(summary=summary(record), brief=True,
                **{f"{kind}_path": layout.job_file(kind, record.id) for kind in JOB_FILES})
    data["sentence"] = ended_sentence(record, job.queue.user)
    data["may"] = may_do(record, may or may_act_on(job.queue))
    return data


def may_do(record: JobRecord, may: Callable[[str], bool]) -> list[str]:
    """The actions (``store.rules.RULES``) the current user may take on the job now: its
    state allows them and it is theirs (or they are an admin)."""
    return rules.allowed(record) if may(record.user) else []


def ended_sentence(record: JobRecord, viewer: str) -> str | None:
    """How a notification tells ``viewer`` that the job ended, in one sentence
    (``messages.sentence``); None while it has not ended."""
    return sentence(record, record.state.value, viewer) if record.terminal else None


def listed_array(array: JobArray, may_act: bool) -> dict[str, Any]:
    """An array as one row: its record (counts per state, aggregated state, progress) and
    whether the current user may cancel or retry it."""
    return array.last_read.to_dict() | {"can_act": may_act}


def may_act_on(q: Queue) -> Callable[[str], bool]:
    """``may(owner)``: whether the current user may act on what ``owner`` submitted (the
    admins list read once for a whole page)."""
    admin = q.is_admin() or q.is_service_account
    return lambda owner: admin or owner == q.user


def row_of(q: Queue, job_id: str) -> dict[str, Any]:
    """``{"job": ...}`` or, for an array's id, ``{"array": ...}``: what an action answers."""
    found = q.lookup(job_id)
    if isinstance(found, Job):
        return {"job": listed(found)}
    return {"array": listed_array(found, may_act_on(q)(found.last_read.user))}


def array_page(q: Queue, array_id: str, offset: int, limit: int,
               states: list[str] | None) -> dict[str, Any]:
    """One array and a page of its elements (of ``states``), by index, as listings show jobs.
    ``total``: its elements (of those states); ``more``: how many follow the page."""
    try:
        array = q.array(array_id)
    except JobNotFound:
        q.get(array_id)           # neither an array nor a job: that error says so
        raise JobNotFound(array_id, f"{array_id} is one job, not an array"
                                    f" (jobs/{array_id} shows it)") from None
    record = array.last_read
    elements = array.elements_page(offset=offset, limit=limit, state=states)
    total = sum(record.counts.get(s, 0) for s in states) if states else record.size
    may = may_act_on(q)
    return {"array": listed_array(array, may(record.user)),
            "elements": [listed(job, may) for job in elements], "offset": offset, "limit": limit,
            "total": total, "more": max(0, total - offset - len(elements))}


def detailed(q: Queue, job_id: str) -> dict[str, Any]:
    """One job whole, with its state history and whether the current user may act on it."""
    job = q.get(job_id)
    record = job.last_read
    may_act = record.user == q.user or q.is_admin()
    data = job.to_dict() | {"summary": summary(record), "brief": False,
                            "may": may_do(record, lambda owner: may_act)}
    if may_act:
        data["env"] = dict(record.env)    # may hold secrets: its owner's (and admins') only
    return {"job": data, "events": q.events(job_id), "can_act": may_act} | run_facts(job)


def read_log(job: Job, offset: int) -> dict[str, Any]:
    """At most LOG_CHUNK bytes of the job's log from ``offset`` (negative: from the end)."""
    done = job.done                # read the state first: a finished job's log is complete
    data, size, start = b"", 0, offset
    try:
        with open(job.log_path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = max(0, size + offset) if offset < 0 else min(offset, size)
            handle.seek(start)
            data = handle.read(min(LOG_CHUNK, size - start))
    except FileNotFoundError:
        start = 0
    data = _whole_utf8(data, at_end=start + len(data) >= size and done)
    return {"text": data.decode("utf-8", errors="replace"), "offset": start + len(data),
            "size": size, "done": done}


def _whole_utf8(data: bytes, at_end: bool) -> bytes:
    """Drop a UTF-8 sequence cut at the end of a chunk (it comes whole with the next one)."""
    if at_end or not data:
        return data
    for cut in range(1, min(4, len(data)) + 1):
        byte = data[-cut]
        if byte < 0x80:                # ASCII: nothing cut
            return data
        if byte >= 0xC0:               # lead byte of a sequence of `need` bytes
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if cut >= need else data[:-cut]
    return data


def queue_page(q: Queue, *, limit: int, offset: int, user: str | None,
               elements: bool) -> dict[str, Any]:
    """The active jobs in the order they will run, one page of them, with the ``counts`` per
    state, the ``total``, how many ``more`` follow, the active ``arrays`` (one row each unless
    ``elements``) and the version they were read at."""
    versions = version_fields(q.change_versions())   # first: a change after it is seen again
    jobs = q.queue(limit=limit, offset=offset, user=user, elements=elements)
    may = may_act_on(q)
    return {"jobs": [listed(j, may) for j in jobs], "counts": jobs.counts, "total": jobs.total,
            "more": jobs.more, "limit": limit, "offset": offset, "user": q.user, **versions,
            "arrays": [listed_array(a, may(a.last_read.user)) for a in jobs.arrays]}


def version_fields(versions: dict[str, int]) -> dict[str, Any]:
    """A page's ``version`` (``Queue.change_version``) and ``topics``: each part of a view's
    own count (``store.changes.CHANGE_TOPICS``), so that it reads again only when that moved."""
    return {"version": versions["n"],
            "topics": {topic: n for topic, n in versions.items() if topic != "n"}}
