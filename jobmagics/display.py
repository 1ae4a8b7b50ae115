"""HTML views of jobs and queues (``_repr_html_``, nbconvert), state colours shared with the
widgets, and reading a job's captured outputs. No ipywidgets import here."""
from __future__ import annotations

import html
import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Queue
    from .job import Job, JobPage
    from .model import JobRecord

STATE_COLOURS = {
    "waiting": "#9e9e9e", "pending": "#f0ad4e", "running": "#1976d2", "completed": "#2e7d32",
    "failed": "#c62828", "cancelled": "#6d4c41", "timeout": "#8e24aa",
}


def state_badge(state: str) -> str:
    colour = STATE_COLOURS.get(state, "#616161")
    return (f'<span class="jobmagics-state jobmagics-state-{html.escape(state)}" style="background:{colour};'
            f'color:white;border-radius:3px;padding:0 6px;font-size:90%">{html.escape(state)}</span>')


def lost_text(record: JobRecord, now: float | None = None) -> str:
    """``worker lost 42 s ago`` for a running job whose worker is gone, else ""."""
    if record.worker_lost_at is None:
        return ""
    return f"worker lost {max(0.0, (now or time.time()) - record.worker_lost_at):.0f} s ago"


def state_html(record: JobRecord, now: float | None = None) -> str:
    """The state badge, and "(worker lost 42 s ago)" beside it when that is the truth."""
    lost = lost_text(record, now)
    return state_badge(record.state.value) + (
        f' <span class="jobmagics-lost" style="color:{STATE_COLOURS["failed"]}">({lost})</span>' if lost else "")


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def elapsed(job: Job, now: float | None = None, record: JobRecord | None = None) -> float | None:
    """Seconds the job has run (so far); pass ``record`` to use one already read."""
    record = record or job.snapshot
    if record.started_at is None:
        return None
    return (record.finished_at or now or time.time()) - record.started_at


def progress_text(progress: float | None, stage: str | None) -> str:
    parts = [f"{progress:.0%}" if progress is not None else "", stage or ""]
    return " ".join(p for p in parts if p)


def job_html(job: Job) -> str:
    """A small card: id, name, user, state, progress and stage, times, error."""
    record = job.record
    rows = [("job", f"<code>{html.escape(job.id)}</code>"),
            ("name", html.escape(record.name or "-")), ("user", html.escape(record.user)),
            ("state", state_html(record)),
            ("progress", html.escape(progress_text(record.progress, record.stage) or "-")),
            ("elapsed", format_duration(elapsed(job, record=record)))]
    if record.error:
        rows.append(("error", f'<span style="color:{STATE_COLOURS["failed"]}">{html.escape(record.error)}</span>'))
    cells = "".join(f'<tr><th style="text-align:left;padding-right:1em">{k}</th><td style="text-align:left">{v}</td></tr>'
                    for k, v in rows)
    return f'<table class="jobmagics-job">{cells}</table>'


def jobs_table_html(jobs: Iterable[Job], title: str | None = None, empty: str = "no jobs") -> str:
    head = "".join(f'<th style="text-align:left">{h}</th>'
                   for h in ("job", "name", "user", "state", "progress", "elapsed", "error"))
    body = []
    for job in jobs:
        record = job.snapshot            # as the listing read it: one read per page, not per row
        body.append("<tr>" + "".join(f'<td style="text-align:left">{c}</td>' for c in (
            f"<code>{html.escape(job.id)}</code>", html.escape(record.name or ""), html.escape(record.user),
            state_html(record), html.escape(progress_text(record.progress, record.stage)),
            format_duration(elapsed(job, record=record)), html.escape((record.error or "")[:120]))) + "</tr>")
    caption = f"<caption style='text-align:left;font-weight:bold'>{html.escape(title)}</caption>" if title else ""
    rows = "".join(body) or f'<tr><td colspan="7"><i>{html.escape(empty)}</i></td></tr>'
    return f'<table class="jobmagics-jobs">{caption}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def more_text(page: JobPage) -> str:
    """``… and 179,950 more pending, 12 more waiting``, or "" when the page shows them all."""
    more = page.more_by_state()
    return ("… and " + ", ".join(f"{n:,} more {state}" for state, n in more.items())) if more else ""


def queue_html(queue: Queue, history: int = 10, limit: int = 50) -> str:
    """The first ``limit`` active jobs (running, pending, waiting) and recent history of every user."""
    page = queue.queue(limit=limit)
    summary = ", ".join(f"{n:,} {s}" for s, n in page.counts.items() if n) or "nothing active"
    more = more_text(page)
    return (f"<div class='jobmagics-queue'><b>Queue</b> <code>{html.escape(str(queue.path))}</code>: "
            f"{html.escape(summary)}"
            + jobs_table_html(page, "Active", "nothing waiting or running")
            + (f"<div class='jobmagics-more'><i>{html.escape(more)}</i></div>" if more else "")
            + jobs_table_html(queue.history(limit=history), "Recent history", "no finished jobs")
            + "</div>")


def job_mimebundle(job: Job, include: Any = None, exclude: Any = None) -> dict[str, Any] | None:
    """A job shown by ``%%job submit`` carries its live widget: displaying the job shows it."""
    view = getattr(job, "_live_view", None)
    if view is None or getattr(view, "comm", None) is None:
        return None
    bundle = view._repr_mimebundle_(include=include, exclude=exclude) or {}
    record = job.record
    name = f" {record.name!r}" if record.name else ""
    # the state lives in the widget; these fallbacks (nbconvert, plain front ends) name the job only
    bundle["text/plain"] = f"<Job {job.id}{name} (live widget)>"
    bundle["text/html"] = (f"<div class='jobmagics-job'><code>{html.escape(job.id)}</code> "
                           f"{html.escape(record.name or '')} · {html.escape(record.user)}: "
                           f"<code>%job status {html.escape(job.id)}</code> shows its state</div>")
    return bundle


# ---- captured outputs of kernel jobs (outputs/<id>.jsonl) ----------------------------
def read_output_events(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """New complete lines of an outputs file from ``offset``; returns them and the new offset."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
    except FileNotFoundError:
        return [], offset
    end = chunk.rfind(b"\n") + 1          # a line still being written waits for the next read
    events = []
    for line in chunk[:end].splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events, offset + end


def fold_outputs(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply clear_output and update_display_data events: the outputs as they finally look."""
    outputs: list[dict[str, Any]] = []
    clear_next = False
    for event in events:
        kind = event.get("output_type")
        if clear_next and kind != "clear_output":
            outputs, clear_next = [], False
        if kind == "clear_output":
            if event.get("wait"):
                clear_next = True
            else:
                outputs = []
            continue
        if kind == "update_display_data":
            _update_display(outputs, event)
            continue
        if kind == "stream" and outputs and outputs[-1].get("output_type") == "stream" \
                and outputs[-1].get("name") == event.get("name"):
            outputs[-1] = {**outputs[-1], "text": outputs[-1]["text"] + event.get("text", "")}
            continue
        outputs.append(dict(event))
    return outputs


def _update_display(outputs: list[dict[str, Any]], event: dict[str, Any]) -> None:
    display_id = (event.get("transient") or {}).get("display_id")
    for index, output in enumerate(outputs):
        if display_id and (output.get("transient") or {}).get("display_id") == display_id:
            outputs[index] = {**output, "data": event.get("data", {}), "metadata": event.get("metadata", {})}


def job_outputs(job: Job) -> list[dict[str, Any]]:
    """The job's captured rich outputs (final if the job is done, so far if it runs)."""
    events, _ = read_output_events(job.queue.layout.outputs(job.id))
    return fold_outputs(events)
