"""HTML views of jobs, arrays and queues (``_repr_html_``, nbconvert), the state colours and
progress-bar styles the widgets share, and the texts of an array the CLI and magics share.
No ipywidgets import here; no worker imports this."""
from __future__ import annotations

import html
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .arrays import ArrayRecord, split_element_id
from .formats import format_duration, progress_text
from .model import RETRYABLE, State

if TYPE_CHECKING:
    from .client import Queue
    from .job import Job, JobPage
    from .job_array import JobArray
    from .model import JobRecord

STATE_COLOURS = {
    "waiting": "#9e9e9e", "pending": "#f0ad4e", "running": "#1976d2", "completed": "#2e7d32",
    "failed": "#c62828", "cancelled": "#6d4c41", "timeout": "#8e24aa",
}
# ipywidgets' bar_style of a job's progress bar per state; any other state: "info"
BAR_STYLES = {"completed": "success", "failed": "danger", "timeout": "danger",
              "cancelled": "warning"}
# the order in which an array's counts are told and stacked: what is moving first
COUNT_ORDER = ("running", "pending", "waiting", "completed", "failed", "cancelled", "timeout")
ARRAY_CARD_ELEMENTS = 10       # the elements an array's card lists
PAST = {"cancel": "cancelled", "retry": "retried", "hold": "held", "release": "released",
        "delete": "deleted"}


def bar_style(state: str) -> str:
    return BAR_STYLES.get(state, "info")


def state_badge(state: str) -> str:
    colour = STATE_COLOURS.get(state, "#616161")
    name = html.escape(state)
    return (f'<span class="jobmagics-state jobmagics-state-{name}" style="background:{colour};'
            f'color:white;border-radius:3px;padding:0 6px;font-size:90%">{name}</span>')


def lost_text(record: JobRecord, now: float | None = None) -> str:
    """``worker lost 42 s ago`` for a running job whose worker is gone, else ""."""
    if record.worker_lost_at is None:
        return ""
    return f"worker lost {max(0.0, (now or time.time()) - record.worker_lost_at):.0f} s ago"


def state_html(record: JobRecord, now: float | None = None) -> str:
    """The state badge, and "(worker lost 42 s ago)" beside it when that is the truth."""
    lost = lost_text(record, now)
    if not lost:
        return state_badge(record.state.value)
    return (state_badge(record.state.value) + f' <span class="jobmagics-lost"'
            f' style="color:{STATE_COLOURS["failed"]}">({lost})</span>')


def error_html(message: str) -> str:
    """A message in the colour of failure."""
    return f'<span style="color:{STATE_COLOURS["failed"]}">{html.escape(message)}</span>'


def elapsed(job: Job, now: float | None = None, record: JobRecord | None = None) -> float | None:
    """Seconds the job has run (so far); pass ``record`` to use one already read."""
    record = record or job.last_read
    if record.started_at is None:
        return None
    return (record.finished_at or now or time.time()) - record.started_at


def row_status_html(job: Job, record: JobRecord) -> str:
    """A row's ``state badge progress · elapsed`` (the queue panel's and an array's elements)."""
    progress = progress_text(record.progress, record.stage)
    progress = f" {html.escape(progress)}" if progress else ""
    return f"{state_html(record)}{progress} · {format_duration(elapsed(job, record=record))}"


def job_html(job: Job, record: JobRecord | None = None) -> str:
    """A small card: id, name, user, state, progress and stage, times, error (``record``: one
    already read)."""
    record = record or job.record
    rows = [("job", f"<code>{html.escape(job.id)}</code>"),
            ("name", html.escape(record.name or "-")), ("user", html.escape(record.user)),
            ("state", state_html(record)),
            ("progress", html.escape(progress_text(record.progress, record.stage) or "-")),
            ("elapsed", format_duration(elapsed(job, record=record)))]
    if record.error:
        rows.append(("error", error_html(record.error)))
    cells = "".join(f'<tr><th style="text-align:left;padding-right:1em">{k}</th>'
                    f'<td style="text-align:left">{v}</td></tr>' for k, v in rows)
    return f'<table class="jobmagics-job">{cells}</table>'


def _job_cells(job: Job) -> tuple[str, ...]:
    record = job.last_read            # as the listing read it: one read per page, not per row
    return (f"<code>{html.escape(job.id)}</code>", html.escape(record.name or ""),
            html.escape(record.user), state_html(record),
            html.escape(progress_text(record.progress, record.stage)),
            format_duration(elapsed(job, record=record)), html.escape((record.error or "")[:120]))


def jobs_table_html(jobs: Iterable[Job], title: str | None = None, empty: str = "no jobs") -> str:
    head = "".join(f'<th style="text-align:left">{h}</th>'
                   for h in ("job", "name", "user", "state", "progress", "elapsed", "error"))
    body = ["<tr>" + "".join(f'<td style="text-align:left">{c}</td>' for c in _job_cells(job))
            + "</tr>" for job in jobs]
    caption = (f"<caption style='text-align:left;font-weight:bold'>{html.escape(title)}</caption>"
               if title else "")
    rows = "".join(body) or f'<tr><td colspan="7"><i>{html.escape(empty)}</i></td></tr>'
    return (f'<table class="jobmagics-jobs">{caption}<thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table>")


def more_text(page: JobPage) -> str:
    """``… and 179,950 more pending, 12 more waiting``, or "" when the page shows them all."""
    more = page.more_by_state()
    if not more:
        return ""
    return "… and " + ", ".join(f"{n:,} more {state}" for state, n in more.items())


def queue_html(queue: Queue, history: int = 10, limit: int = 50) -> str:
    """The first ``limit`` active jobs (running, pending, waiting) and recent history of every
    user."""
    page = queue.queue(limit=limit)
    summary = ", ".join(f"{n:,} {s}" for s, n in page.counts.items() if n) or "nothing active"
    more = more_text(page)
    return (f"<div class='jobmagics-queue'><b>Queue</b>"
            f" <code>{html.escape(str(queue.path))}</code>: {html.escape(summary)}"
            + jobs_table_html(page, "Active", "nothing waiting or running")
            + (f"<div class='jobmagics-more'><i>{html.escape(more)}</i></div>" if more else "")
            + jobs_table_html(queue.history(limit=history), "Recent history", "no finished jobs")
            + "</div>")


def workers_html(workers: Iterable[dict[str, Any]], mine: Iterable[int] = ()) -> str:
    """The live workers of a queue (``Queue.workers()``); those whose pid is in ``mine`` are
    marked as this kernel's."""
    own = set(mine)
    rows = "".join(
        f"<tr><td><code>{html.escape(w['id'])}</code></td><td>{w['slots']}</td>"
        f"<td>{html.escape(', '.join(f'{k}={v}' for k, v in w['resources'].items()) or '-')}</td>"
        f"<td>{html.escape(w['user'])}</td><td>{'this kernel' if w['pid'] in own else ''}</td>"
        "</tr>" for w in workers)
    return ("<table class='jobmagics-workers'><thead><tr><th>worker</th><th>slots</th>"
            "<th>resources</th><th>user</th><th>owner</th></tr></thead><tbody>"
            + (rows or "<tr><td colspan='5'><i>no worker serves this queue</i></td></tr>")
            + "</tbody></table>")


def live_job_fallback(job: Job) -> dict[str, str]:
    """What a live job widget's output carries beside the view (nbconvert, front ends without
    widgets): the job's name only, since its state lives in the widget (and, once the job
    ended, in the final card that replaces the output)."""
    record = job.last_read
    name = f" {record.name!r}" if record.name else ""
    return {"text/plain": f"<Job {job.id}{name} (live widget)>",
            "text/html": (f"<div class='jobmagics-job'><code>{html.escape(job.id)}</code> "
                          f"{html.escape(record.name or '')} · {html.escape(record.user)}: "
                          f"<code>%job status {html.escape(job.id)}</code> shows its state</div>")}


def live_array_fallback(array: JobArray) -> dict[str, str]:
    """``live_job_fallback`` of an array."""
    record = array.last_read
    name = f" {record.name!r}" if record.name else ""
    return {"text/plain": f"<JobArray {array.id}{name} of {record.size} (live widget)>",
            "text/html": (f"<div class='jobmagics-array'><code>{html.escape(array.id)}</code>"
                          f" {html.escape(record.name or '')} · {html.escape(record.user)}:"
                          f" an array of {record.size:,};"
                          f" <code>%job status {html.escape(array.id)}</code> shows its state"
                          "</div>")}


def summary_html(summary: Mapping[str, Any]) -> str:
    """A run's summary (an experiment's fit: ``rabi_frequency 4.97 MHz ...``) as a small table;
    "" when it has none."""
    if not summary:
        return ""
    cells = "".join(f'<tr><th style="text-align:left;padding-right:1em">{html.escape(str(k))}'
                    f'</th><td style="text-align:left">{html.escape(_short(v))}</td></tr>'
                    for k, v in summary.items())
    return f'<table class="jobmagics-summary">{cells}</table>'


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= 120 else text[:119] + "…"


def again_ways(job_id: str) -> tuple[str, str]:
    """The two ways to run an ended job again: from Python and as a magic."""
    return "job.retry()", f"%job retry {job_id}"


def again_text(job_id: str) -> str:
    """How to run an ended job again, as the final card says it."""
    python, magic = again_ways(job_id)
    return f"run it again: {python} or {magic}"


def final_job_html(job: Job, record: JobRecord, summary: Mapping[str, Any] | None = None,
                   png: bytes | None = None, tail: str = "") -> str:
    """The card a live job widget becomes when its job ended (and what an ended job shows):
    the card's rows, the run's summary, its final plot (an embedded PNG), the last lines of
    its output and, when it did not complete, how to run it again."""
    import base64
    parts = [job_html(job, record)]
    if summary:
        parts.append(f"<div><b>result</b>{summary_html(summary)}</div>")
    if png:
        encoded = base64.b64encode(png).decode("ascii")
        parts.append(f'<img class="jobmagics-plot" style="max-width:32em" alt="data of {job.id}"'
                     f' src="data:image/png;base64,{encoded}"/>')
    if tail:
        parts.append('<pre class="jobmagics-tail" style="max-height:12em;overflow:auto;'
                     f'margin:0.3em 0">{html.escape(tail)}</pre>')
    if record.state in RETRYABLE:
        python, magic = (html.escape(way) for way in again_ways(job.id))
        parts.append(f'<div class="jobmagics-again"><code>{python}</code> or <code>{magic}</code>'
                     " runs it again</div>")
    return f'<div class="jobmagics-final">{"".join(parts)}</div>'


def final_job_text(job: Job, record: JobRecord, summary: Mapping[str, Any] | None = None) -> str:
    """The final card as text (nbconvert to text, terminals)."""
    name = f" {record.name!r}" if record.name else ""
    took = format_duration(elapsed(job, record=record))
    lines = [f"<Job {job.id}{name} {record.state.value} after {took}>"]
    if record.error:
        lines.append(f"  error: {record.error}")
    lines += [f"  {k}: {_short(v)}" for k, v in (summary or {}).items()]
    if record.state in RETRYABLE:
        lines.append(f"  {again_text(job.id)}")
    return "\n".join(lines)


# ---- arrays -------------------------------------------------------------------------------
def counts_text(counts: Mapping[str, int]) -> str:
    """``3 running, 40 waiting, 57 completed`` (states no element is in are left out)."""
    return ", ".join(f"{counts[s]:,} {s}" for s in COUNT_ORDER if counts.get(s)) or "no elements"


def array_elapsed(record: ArrayRecord, now: float | None = None) -> float | None:
    """Seconds from the first element's start to the last one's end (or to now)."""
    if record.started_at is None:
        return None
    return (record.finished_at or now or time.time()) - record.started_at


def array_progress_text(record: ArrayRecord) -> str:
    """``57% (57 of 100 ended)``."""
    return f"{progress_text(record.progress, None)} ({record.ended:,} of {record.size:,} ended)"


def counts_bar_html(counts: Mapping[str, int], size: int, width: str = "16em",
                    legend: bool = False) -> str:
    """A bar of ``size`` elements stacked by state, in the state colours (hover: the count);
    ``legend``: with each state's count below it."""
    segments = "".join(
        f'<span class="jobmagics-count jobmagics-count-{state}" title="{counts[state]:,} {state}"'
        f' style="display:inline-block;height:100%;width:{100 * counts[state] / size:.3f}%;'
        f'background:{STATE_COLOURS[state]}"></span>'
        for state in COUNT_ORDER if counts.get(state) and size)
    bar = (f'<span class="jobmagics-counts-bar" style="display:inline-flex;width:{width};'
           f'height:0.9em;background:#eeeeee;border-radius:3px;overflow:hidden;'
           f'vertical-align:middle">{segments}</span>')
    if not legend:
        return bar
    keys = " · ".join(f'<span style="color:{STATE_COLOURS[state]}">■</span> {n:,} {state}'
                      for state in COUNT_ORDER if (n := counts.get(state, 0)))
    return f'{bar}<div class="jobmagics-array-legend" style="font-size:90%">{keys}</div>'


def _array_rows(array: JobArray, record: ArrayRecord) -> list[tuple[str, str]]:
    throttle = f", at most {record.parallel} at once" if record.parallel else ""
    return [("array", f"<code>{html.escape(array.id)}</code>"),
            ("name", html.escape(record.name or "-")),
            ("user", html.escape(record.user)),
            ("state", state_badge(record.state.value)),
            ("elements", (f"{counts_bar_html(record.counts, record.size)} "
                          f"{html.escape(counts_text(record.counts))} <i>({record.size:,}"
                          f" {html.escape(record.kind)} jobs{throttle})</i>")),
            ("progress", html.escape(array_progress_text(record))),
            ("elapsed", format_duration(array_elapsed(record)))]


def array_html(array: JobArray, elements: int = ARRAY_CARD_ELEMENTS) -> str:
    """A card: id, name, user, aggregated state, a bar of the counts per state, progress,
    elapsed time, and the first ``elements`` elements."""
    record = array.record
    cells = "".join(f'<tr><th style="text-align:left;padding-right:1em">{k}</th>'
                    f'<td style="text-align:left">{v}</td></tr>'
                    for k, v in _array_rows(array, record))
    first = array.elements_page(limit=elements) if elements else []
    rest = record.size - len(first)
    more = (f"<div class='jobmagics-more'><i>… and {rest:,} more"
            f" (<code>array.elements_page(offset={len(first)})</code>)</i></div>"
            if rest > 0 else "")
    listed = jobs_table_html(first, "Elements", "no elements") + more if elements else ""
    return f'<div class="jobmagics-array"><table>{cells}</table>{listed}</div>'


def move_lines(action: str, asked: Sequence[str], outcomes: Sequence[tuple[str, State | None]],
               job_line: Callable[[str, State | None], str]) -> list[str]:
    """One line per job asked for (``job_line``), one per array asked for: how many of its
    elements the move changed (``JOB-...-00042: 60 elements cancelled (3 running: being
    stopped)``), in the order they were asked."""
    wanted = set(asked)
    per_array: dict[str, list[State | None]] = {}
    singles: dict[str, str] = {}
    for job_id, state in outcomes:
        split = split_element_id(job_id)
        if split is not None and split[0] in wanted and job_id not in wanted:
            per_array.setdefault(split[0], []).append(state)
        else:
            singles[job_id] = job_line(job_id, state)
    lines = [singles.pop(i) if i in singles else _array_move_line(action, i, per_array[i])
             for i in dict.fromkeys(asked) if i in singles or i in per_array]
    return lines + list(singles.values())


def _array_move_line(action: str, array_id: str, states: list[State | None]) -> str:
    line = f"{array_id}: {len(states):,} element{'' if len(states) == 1 else 's'} {PAST[action]}"
    if action == "cancel":
        running = sum(state is State.RUNNING for state in states)
        return line + (f" ({running} running: being stopped)" if running else "")
    if action in ("retry", "release"):
        return line + f" ({counts_text(Counter(s.value for s in states if s is not None))})"
    return line
