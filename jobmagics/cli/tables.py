"""Human-readable output of the CLI: tables, durations, one job in detail."""
from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..fields import settings
from ..formats import cut, format_duration, progress_text
from ..job import Job, JobPage
from ..kinds import describe
from ..messages import status_line
from ..model import JobRecord, JobSettings, State, format_memory
from ..units import unit_shortfall, units_text

LABEL_WIDTH = 10               # the labels of a job's detail are right-aligned to this at least
SETTING_CHARS = 200            # a setting's value is cut to this in a job's detail
# Settings that job_detail shows under a row named otherwise (the others are named as fields).
SHOWN_AS = {"retries": "attempt", "held": "state"}


def timestamp(epoch: float | None) -> str:
    return "-" if epoch is None else datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def elapsed(job: Job, now: float) -> str:
    """How long the job has run, or ``waiting 42s`` since its submission."""
    record = job.last_read
    if record.started_at is None:
        return f"waiting {format_duration(now - record.submitted_at)}"
    return format_duration((record.finished_at or now) - record.started_at)


def progress(record: JobRecord, stage: bool = False) -> str:
    """``42%`` (``42% sweep 2/5`` with the stage), or ``-`` if the job says nothing."""
    return progress_text(record.progress, record.stage if stage else None) or "-"


def state_text(record: JobRecord, now: float) -> str:
    """``running (worker lost 42 s ago)``, ``waiting (held)``, or just the state."""
    if record.worker_lost_at is not None:
        ago = max(0.0, now - record.worker_lost_at)
        return f"{record.state.value} (worker lost {ago:.0f} s ago)"
    return record.state.value + (" (held)" if record.held else "")


def more_line(page: JobPage) -> str:
    """``... and 179,950 more pending, 12 more waiting (...)``, or "" when the page is all."""
    more = page.more_by_state()
    if not more:
        return ""
    counts = ", ".join(f"{n:,} more {state}" for state, n in more.items())
    return f"... and {counts} (jobmagics queue --limit N, or --all)"


def job_row(job: Job, now: float) -> list[str]:
    record = job.last_read
    state = state_text(record, now)
    return [record.id, state, record.user, record.name or "-", str(record.priority),
            ",".join(record.resources) or "-", progress(record), elapsed(job, now),
            (record.stage or record.error or "")[:60]]


JOB_HEADERS = ["ID", "STATE", "USER", "NAME", "PRI", "RESOURCES", "PROG", "TIME", "STAGE/ERROR"]


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    rows = [list(map(str, r)) for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)).rstrip() for r in rows]
    return "\n".join(lines)


def jobs_table(jobs: Sequence[Job]) -> str:
    if not jobs:
        return "no jobs"
    now = time.time()
    return table(JOB_HEADERS, (job_row(j, now) for j in jobs))


def job_detail(job: Job, events: Sequence[dict[str, Any]]) -> str:
    """The job's fields, one a line (every setting that differs from its default included),
    then its state history."""
    rows = _detail_rows(job)
    rows += _unit_rows(job)
    rows += _other_settings(job.last_read, shown={name for name, _ in rows})
    width = max(LABEL_WIDTH, *(len(name) for name, _ in rows))
    lines = [f"{name:>{width}}  {value}" for name, value in rows]
    lines.append("")
    lines.append(table(["TIME", "STATE", "DETAIL"],
                       ([timestamp(e["at"]), e["state"], e["detail"] or ""] for e in events)))
    lines += _notification_lines(job)
    return "\n".join(lines)


def _notification_lines(job: Job) -> list[str]:
    """Where it said that it ended: each target, sent, failed (why) or waiting, and tries."""
    sent = job.notifications()
    if not sent:
        return []
    return ["", table(["NOTIFY", "ATTEMPT", "STATUS"],
                      ([n.target, str(n.attempt), status_line(n, timestamp)] for n in sent))]


def _detail_rows(job: Job) -> list[tuple[str, object]]:
    r = job.last_read
    return [
        ("id", r.id), ("name", r.name or "-"), ("kind", r.kind),
        ("state", state_text(r, time.time())), ("user", f"{r.user}@{r.host}"),
        ("priority", r.priority), ("resources", ", ".join(r.resources) or "-"),
        ("cpus", r.cpus), ("memory", format_memory(r.memory)), ("after", ", ".join(r.after) or "-"),
        ("timeout", f"{r.timeout:g} s" if r.timeout else "-"),
        ("attempt", f"{r.attempt} of {r.retries + 1}"),
        ("submitted", timestamp(r.submitted_at)), ("started", timestamp(r.started_at)),
        ("finished", timestamp(r.finished_at)),
        ("exit code", "-" if r.exit_code is None else r.exit_code),
        ("error", r.error or "-"), ("worker", r.worker or "-"),
        ("backend", r.backend + (f" {r.backend_id}" if r.backend_id else "")),
        ("progress", progress(r, stage=True)), ("cwd", r.cwd),
        ("runs", describe(r)),
        ("log", job.log_path),
    ]


def _unit_rows(job: Job) -> list[tuple[str, object]]:
    """The units its resources hold (``gpu 0,2``), and why a pending job that asks for more
    units than any worker has cannot start."""
    record = job.last_read
    rows: list[tuple[str, object]] = []
    if record.units:
        rows.append(("units", units_text(record.units)))
    if record.state is State.PENDING and record.resources:
        reason = unit_shortfall(record, job.queue.workers())
        if reason is not None:
            rows.append(("waits", reason))
    return rows


def _other_settings(record: JobRecord, shown: set[str]) -> list[tuple[str, str]]:
    """A row for each public setting that no row shows and whose value is not its default
    (e.g. ``retry_delay  5.0``): a new setting shows up here by itself."""
    return [(f.name, setting_text(getattr(record, f.name))) for f in settings(JobSettings)
            if f.public and SHOWN_AS.get(f.name, f.name) not in shown
            and getattr(record, f.name) != f.default]


def setting_text(value: object) -> str:
    """A setting's value on one line: lists joined, mappings and declared extras (options)
    as ``name=value``, cut to SETTING_CHARS."""
    to_json = getattr(value, "to_json", None)
    if callable(to_json):                # declared extras: the ones that are not their defaults
        value = to_json()
    if isinstance(value, Mapping):
        text = ", ".join(f"{k}={setting_text(v)}" for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        text = ", ".join(map(str, value))
    else:
        text = str(value)
    return cut(text, SETTING_CHARS)
