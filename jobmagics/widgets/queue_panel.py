"""The live queue panel: the active arrays (one row each: counts per state as a stacked bar,
progress, cancel), the first page of waiting/pending/running jobs of every user that are no
array's elements (and how many more there are), then the recently finished arrays (one row
each, retry at hand) above the recent history of jobs that are no array's elements, and the
queue's recurring schedules (when there are any) with their next and last runs. Filters
by user and by state (a state lists the arrays with elements in it, one row each, before the
jobs in it: never an array's elements one by one); per-row state, progress and cancel."""
from __future__ import annotations

import contextlib
import html
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..display import (
    array_elapsed,
    bar_style,
    counts_bar_html,
    error_html,
    more_text,
    queue_html,
    row_status_html,
    state_badge,
)
from ..errors import JobmagicsError
from ..formats import format_duration
from ..job import Job
from ..model import STATE_NAMES, TERMINAL, State
from ..schedules import Schedule, next_run
from .live_views import LiveView, install, kernel_shell
from .poller import shared_poller

if TYPE_CHECKING:
    from ..client import Queue
    from ..job import JobPage
    from ..job_array import JobArray
    from ..model import JobRecord

EVERYONE = ""
ACTIVE_AND_RECENT = ""


LIVENESS_S = 1.0          # running rows: how often to look whether their worker is still there
THROTTLE = 4.0            # after a refresh that took T, the next one waits at least THROTTLE * T


def snapshot(job: Job) -> JobRecord:
    """The record the listing just read (``Job.record`` would read an active job again)."""
    return job.last_read


class JobRow(w.HBox):
    """One job in the panel; updated in place so the front end keeps its views."""

    def __init__(self, panel: QueuePanel, job: Job) -> None:
        self.job_id = job.id
        self._panel = panel
        self.cells = w.HTML(layout=w.Layout(width="60%"))
        self.bar = w.FloatProgress(min=0.0, max=1.0, layout=w.Layout(width="20%"))
        self.cancel_button = w.Button(description="Cancel", icon="stop",
                                      layout=w.Layout(width="auto"))
        self.cancel_button.on_click(lambda _b: panel.cancel(self.job_id))
        super().__init__([self.cells, self.bar, self.cancel_button])
        self.state = ""
        self.update(job)

    def update(self, job: Job) -> None:
        record = snapshot(job)
        self.state = record.state.value
        self.cells.value = (f"<code>{html.escape(job.id)}</code> {html.escape(record.name or '')}"
                            f" · {html.escape(record.user)} · {row_status_html(job, record)}")
        self.bar.value = 1.0 if record.state is State.COMPLETED else float(record.progress or 0.0)
        self.bar.bar_style = bar_style(record.state.value)
        self.cancel_button.disabled = record.state in TERMINAL

    def widgets(self) -> tuple[w.Widget, ...]:
        return (self, self.cells, self.bar, self.cancel_button)


class ArrayRow(w.HBox):
    """One array in the panel: id, name, user, state, its counts as a stacked bar, how many
    ended, elapsed time, cancel (every element not ended) and, once some failed, timed out
    or were cancelled, retry (those elements)."""

    def __init__(self, panel: QueuePanel, array: JobArray) -> None:
        self.job_id = array.id
        self.cells = w.HTML(layout=w.Layout(width="60%"))
        self.stack = w.HTML(layout=w.Layout(width="20%"))
        self.cancel_button = w.Button(description="Cancel", icon="stop",
                                      layout=w.Layout(width="auto"))
        self.cancel_button.on_click(lambda _b: panel.cancel(self.job_id))
        self.retry_button = w.Button(description="Retry", icon="refresh",
                                     tooltip="Retry its failed, cancelled and timed-out elements",
                                     layout=w.Layout(width="auto"))
        self.retry_button.on_click(lambda _b: panel.retry(self.job_id))
        super().__init__([self.cells, self.stack, self.cancel_button, self.retry_button])
        self.state = ""
        self.update(array)

    def update(self, array: JobArray) -> None:
        record = array.last_read
        self.state = record.state.value
        self.cells.value = (f"<code>{html.escape(array.id)}</code> {html.escape(record.name or '')}"
                            f" · {html.escape(record.user)} · {state_badge(record.state.value)}"
                            f" · array {record.ended:,}/{record.size:,} ended"
                            f" · {format_duration(array_elapsed(record))}")
        self.stack.value = counts_bar_html(record.counts, record.size, "100%", legend=True)
        self.cancel_button.disabled = record.active == 0
        retryable = bool(record.retryable)
        self.retry_button.layout.display = "" if retryable else "none"

    def widgets(self) -> tuple[w.Widget, ...]:
        return (self, self.cells, self.stack, self.cancel_button, self.retry_button)


class QueuePanel(w.VBox):
    """``%job queue``: the whole lab's queue, live."""

    def __init__(self, queue: Queue, history: int = 10, limit: int = 50, **kwargs: Any) -> None:
        self.queue = queue
        self.history_limit = history
        self.limit = limit
        self.user_filter = w.Dropdown(description="user", options=[("everyone", EVERYONE)],
                                      value=EVERYONE)
        self.state_filter = w.Dropdown(
            description="state", value=ACTIVE_AND_RECENT,
            options=[("active + recent", ACTIVE_AND_RECENT)] + [(s, s) for s in STATE_NAMES])
        self.summary = w.HTML()
        self.more = w.HTML()              # "... and 179,950 more pending" below the first page
        self.message = w.HTML()
        self.rows_box = w.VBox()
        self.schedules = w.HTML(layout=w.Layout(display="none"))   # shown when there are any
        super().__init__([w.HBox([self.user_filter, self.state_filter]), self.summary,
                          self.rows_box, self.more, self.schedules, self.message], **kwargs)
        self.add_class("jobmagics-queue-panel")
        self.rows: dict[str, JobRow | ArrayRow] = {}
        self._jobs: list[Job] = []
        self._lock = threading.RLock()
        self._users: set[str] = {queue.user}
        self.page: JobPage | None = None     # the active jobs' page, when no state filter is set
        self._stale = False
        self._next_refresh = 0.0
        self._next_liveness = 0.0
        self.user_filter.observe(lambda _c: self.refresh(), names="value")
        self.state_filter.observe(lambda _c: self.refresh(), names="value")
        self.refresh()
        shared_poller().subscribe(self)

    def __repr__(self) -> str:
        return f"QueuePanel({str(self.queue.path)!r})"

    def _ipython_display_(self) -> None:
        """Displayed (``%job queue``, ``q``): a live output until it is gone (``live_views``),
        the HTML listing beside it for front ends without widgets."""
        install(kernel_shell())
        LiveView(self).show({"text/plain": repr(self.queue), "text/html": queue_html(self.queue)})

    def poll(self, changed: bool) -> bool:
        """Re-read on a change, but never more than a 1/THROTTLE share of the time (a huge queue
        makes each read dearer); between changes, look once a second whether the workers of the
        running rows are still alive (a worker's death writes nothing to the queue)."""
        if self.comm is None:
            return False
        self._stale = self._stale or changed
        now = time.monotonic()
        if self._stale and now >= self._next_refresh:
            self.refresh()
        elif now >= self._next_liveness:
            self._recheck_workers()
            self._show_schedules()        # "next in 4m 59s" moves on between changes too
        return True

    def items(self) -> list[Job | JobArray]:
        """What the filters select, in the order shown: the active arrays, the first page of
        active jobs, the recently finished arrays, the recent history; or, for one state, the
        arrays with elements in it, then its jobs. An array's elements are never rows here
        (a 10,000-element array would bury everything else): its row stands for them."""
        user, state = self.user_filter.value or None, self.state_filter.value or None
        if state is not None:
            self.page = None
            jobs = self.queue.jobs(state=state, user=user, limit=self.history_limit * 5,
                                   elements=False)
            return [*self._arrays_in(state, user), *jobs]
        self.page = self.queue.queue(limit=self.limit, user=user, elements=False)
        shown = {job.id for job in self.page}     # a job that ended between the two reads: once
        recent = self.queue.history(user=user, limit=self.history_limit, elements=False)
        finished = self._finished_arrays(user, {array.id for array in self.page.arrays})
        return [*self.page.arrays, *self.page, *finished,
                *(job for job in recent if job.id not in shown)]

    def _finished_arrays(self, user: str | None, active: set[str]) -> list[JobArray]:
        """The newest arrays whose every element ended (at most ``history``). Arrays are
        listed newest first, the active ones among them: asking for as many more as there
        are active arrays finds ``history`` finished ones if there are."""
        arrays = self.queue.arrays(user=user, active=False, limit=self.history_limit + len(active))
        finished = [a for a in arrays if a.last_read.terminal and a.id not in active]
        return finished[:self.history_limit]

    def _arrays_in(self, state: str, user: str | None) -> list[JobArray]:
        """The arrays with elements in ``state``: every active one for an active state, the
        newest ``history`` ones for a finished state."""
        ended = State(state) in TERMINAL
        arrays = self.queue.arrays(user=user, active=not ended,
                                   limit=self.history_limit if ended else None)
        return [array for array in arrays if array.last_read.counts.get(state, 0)]

    def refresh(self) -> None:
        with self._lock:
            started = time.monotonic()
            self._stale = False
            items = self.items()
            jobs = [item for item in items if isinstance(item, Job)]
            arrays = [item for item in items if not isinstance(item, Job)]
            # the summary counts jobs that are no array's elements, and the active arrays
            page = self.page if self.page is not None else self.queue.queue(
                limit=0, user=self.user_filter.value or None, elements=False)
            with contextlib.ExitStack() as stack:
                for widget in (self, self.summary, self.more, self.rows_box, self.user_filter,
                               *(x for r in self.rows.values() for x in r.widgets())):
                    stack.enter_context(widget.hold_sync())
                self._update_rows(items)
                self.summary.value = " · ".join(
                    [f"{state_badge(s)} {n:,}" for s, n in page.counts.items()]
                    + ([f"{len(page.arrays):,} active arrays"] if page.arrays else []))
                more = more_text(self.page) if self.page is not None else ""
                self.more.value = f"<i>{html.escape(more)}</i>" if more else ""
                self._update_users(jobs, arrays)
                self._show_schedules()
            self._jobs = jobs
            finished = time.monotonic()
            self._next_refresh = finished + THROTTLE * (finished - started)
            self._next_liveness = finished + LIVENESS_S

    def _show_schedules(self) -> None:
        """The "Schedules" section: every schedule (of the user filtered on), its rhythm, next
        run and last run; hidden while there are none."""
        schedules = self.queue.schedules(self.user_filter.value or None)
        with self.schedules.hold_sync():
            self.schedules.value = schedules_html(schedules) if schedules else ""
            self.schedules.layout.display = "" if schedules else "none"

    def _recheck_workers(self) -> None:
        """Mark (or unmark) running rows whose worker is gone; their elapsed times move on too."""
        with self._lock:
            self._next_liveness = time.monotonic() + LIVENESS_S
            running = [job for job in self._jobs if job.last_read.state is State.RUNNING]
            if not running:
                return
            self.queue.mark_lost_workers([job.last_read for job in running])
            for job in running:
                row = self.rows.get(job.id)
                if isinstance(row, JobRow):
                    with row.cells.hold_sync():
                        row.update(job)

    def _update_rows(self, items: list[Job | JobArray]) -> None:
        """Rows for the items in their order, reusing those of the same id and kind."""
        wanted = {(item.id, _row_class(item)) for item in items}
        for job_id in [i for i, r in self.rows.items() if (i, type(r)) not in wanted]:
            row = self.rows.pop(job_id)
            for widget in row.widgets():
                widget.close()
        for item in items:
            if item.id in self.rows:
                self.rows[item.id].update(item)  # type: ignore[arg-type]
            else:
                self.rows[item.id] = _row_class(item)(self, item)  # type: ignore[arg-type]
        self.rows = {item.id: self.rows[item.id] for item in items}    # in the order shown
        order = tuple(self.rows.values())
        if order != self.rows_box.children:
            self.rows_box.children = order

    def _update_users(self, jobs: list[Job], arrays: list[JobArray]) -> None:
        users = (self._users | {snapshot(job).user for job in jobs}
                 | {array.last_read.user for array in arrays})
        if users != self._users or len(self.user_filter.options) == 1:
            self._users = users
            options = [("everyone", EVERYONE)] + [(u, u) for u in sorted(users)]
            if list(self.user_filter.options) != options:
                self.user_filter.options = options

    def cancel(self, job_id: str) -> None:
        self._act(lambda: self.queue.cancel(job_id))

    def retry(self, job_id: str) -> None:
        self._act(lambda: self.queue.retry(job_id))

    def _act(self, action: Callable[[], object]) -> None:
        try:
            action()
            self.message.value = ""
        except JobmagicsError as exc:
            self.message.value = error_html(str(exc))
        self.refresh()

    def close(self) -> None:
        shared_poller().unsubscribe(self)
        for row in self.rows.values():
            for widget in row.widgets():
                widget.close()
        for widget in (self.user_filter, self.state_filter, self.summary, self.more, self.message,
                       self.rows_box):
            widget.close()
        super().close()


def schedules_html(schedules: list[Schedule]) -> str:
    """The section's table: one line per schedule."""
    now = time.time()
    lines = []
    for schedule in schedules:
        record = schedule.last_read
        last = ("-" if record.last_job is None else
                f"<code>{html.escape(record.last_job)}</code>"
                f" {state_badge(record.last_state) if record.last_state else 'removed'}")
        cells = [f"<b>{html.escape(record.name)}</b>", html.escape(record.user),
                 html.escape(record.rhythm.describe()), html.escape(next_run(record, now)),
                 last, html.escape(record.last_note or "")]
        lines.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    head = "".join(f"<th>{h}</th>" for h in ("schedule", "owner", "rhythm", "next run",
                                              "last run", "note"))
    return (f"<div class='jobmagics-schedules'><b>Schedules</b><table><tr>{head}</tr>"
            f"{''.join(lines)}</table></div>")


def _row_class(item: Job | JobArray) -> type[JobRow] | type[ArrayRow]:
    return JobRow if isinstance(item, Job) else ArrayRow
