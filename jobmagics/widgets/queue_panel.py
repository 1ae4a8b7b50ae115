"""The live queue panel: waiting/pending/running jobs of every user plus recent history,
filters by user and state, and per-row state, progress and cancel."""
from __future__ import annotations

import contextlib
import html
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..display import STATE_COLOURS, elapsed, format_duration, state_badge
from ..errors import JobmagicsError
from ..model import STATE_NAMES, TERMINAL, State
from .poller import shared_poller

if TYPE_CHECKING:
    from ..client import Queue
    from ..job import Job
    from ..model import JobRecord

EVERYONE = ""
ACTIVE_AND_RECENT = ""


def snapshot(job: Job) -> JobRecord:
    """The record the listing just read (``Job.record`` would read an active job again)."""
    return job._record if job._record is not None else job.record


class JobRow(w.HBox):
    """One job in the panel; updated in place so the front end keeps its views."""

    def __init__(self, panel: QueuePanel, job: Job) -> None:
        self.job_id = job.id
        self._panel = panel
        self.cells = w.HTML(layout=w.Layout(width="60%"))
        self.bar = w.FloatProgress(min=0.0, max=1.0, layout=w.Layout(width="20%"))
        self.cancel_button = w.Button(description="Cancel", icon="stop", layout=w.Layout(width="auto"))
        self.cancel_button.on_click(lambda _b: panel.cancel(self.job_id))
        super().__init__([self.cells, self.bar, self.cancel_button])
        self.state = ""
        self.update(job)

    def update(self, job: Job) -> None:
        record = snapshot(job)
        self.state = record.state.value
        progress = "" if record.progress is None else f" {record.progress:.0%}"
        stage = f" {html.escape(record.stage)}" if record.stage else ""
        self.cells.value = (f"<code>{html.escape(job.id)}</code> {html.escape(record.name or '')} · "
                            f"{html.escape(record.user)} · {state_badge(record.state.value)}{progress}{stage}"
                            f" · {format_duration(elapsed(job, record=record))}")
        self.bar.value = 1.0 if record.state is State.COMPLETED else float(record.progress or 0.0)
        self.bar.bar_style = {"completed": "success", "failed": "danger", "timeout": "danger",
                              "cancelled": "warning"}.get(record.state.value, "info")
        self.cancel_button.disabled = record.state in TERMINAL

    def widgets(self) -> tuple[w.Widget, ...]:
        return (self, self.cells, self.bar, self.cancel_button)


class QueuePanel(w.VBox):
    """``%job queue``: the whole lab's queue, live."""

    def __init__(self, queue: Queue, history: int = 10, **kwargs: Any) -> None:
        self.queue = queue
        self.history_limit = history
        self.user_filter = w.Dropdown(description="user", options=[("everyone", EVERYONE)], value=EVERYONE)
        self.state_filter = w.Dropdown(description="state", value=ACTIVE_AND_RECENT,
                                       options=[("active + recent", ACTIVE_AND_RECENT)] + [(s, s) for s in STATE_NAMES])
        self.summary = w.HTML()
        self.message = w.HTML()
        self.rows_box = w.VBox()
        super().__init__([w.HBox([self.user_filter, self.state_filter]), self.summary,
                          self.rows_box, self.message], **kwargs)
        self.add_class("jobmagics-queue-panel")
        self.rows: dict[str, JobRow] = {}
        self._lock = threading.RLock()
        self._users: set[str] = {queue.user}
        self.user_filter.observe(lambda _c: self.refresh(), names="value")
        self.state_filter.observe(lambda _c: self.refresh(), names="value")
        self.refresh()
        shared_poller().subscribe(self)

    def __repr__(self) -> str:
        return f"QueuePanel({str(self.queue.path)!r})"

    def poll(self, changed: bool) -> bool:
        if self.comm is None:
            return False
        if changed:
            self.refresh()
        return True

    def jobs(self) -> list[Job]:
        """What the filters select: active jobs then recent history, or one state."""
        user, state = self.user_filter.value or None, self.state_filter.value or None
        if state is not None:
            return self.queue.jobs(state=state, user=user, limit=self.history_limit * 5)
        active = [j for j in self.queue.queue() if user is None or snapshot(j).user == user]
        return active + self.queue.history(user=user, limit=self.history_limit)

    def refresh(self) -> None:
        with self._lock:
            jobs = self.jobs()
            counts = self.queue.store.state_counts()
            with contextlib.ExitStack() as stack:
                for widget in (self, self.summary, self.rows_box, self.user_filter,
                               *(x for r in self.rows.values() for x in r.widgets())):
                    stack.enter_context(widget.hold_sync())
                self._update_rows(jobs)
                self.summary.value = " · ".join(
                    f"{state_badge(s)} {counts.get(s, 0)}" for s in ("running", "pending", "waiting")
                ) + f" · {sum(counts.get(s.value, 0) for s in TERMINAL)} finished"
                self._update_users(jobs)

    def _update_rows(self, jobs: list[Job]) -> None:
        wanted = {job.id for job in jobs}
        for job_id in [i for i in self.rows if i not in wanted]:
            row = self.rows.pop(job_id)
            for widget in row.widgets():
                widget.close()
        for job in jobs:
            if job.id in self.rows:
                self.rows[job.id].update(job)
            else:
                self.rows[job.id] = JobRow(self, job)
        order = tuple(self.rows[job.id] for job in jobs)
        if order != self.rows_box.children:
            self.rows_box.children = order

    def _update_users(self, jobs: list[Job]) -> None:
        users = self._users | {snapshot(job).user for job in jobs}
        if users != self._users or len(self.user_filter.options) == 1:
            self._users = users
            options = [("everyone", EVERYONE)] + [(u, u) for u in sorted(users)]
            if list(self.user_filter.options) != options:
                self.user_filter.options = options

    def cancel(self, job_id: str) -> None:
        try:
            self.queue.cancel(job_id)
            self.message.value = ""
        except JobmagicsError as exc:
            self.message.value = f"<span style='color:{STATE_COLOURS['failed']}'>{html.escape(str(exc))}</span>"
        self.refresh()

    def close(self) -> None:
        shared_poller().unsubscribe(self)
        for row in self.rows.values():
            for widget in row.widgets():
                widget.close()
        for widget in (self.user_filter, self.state_filter, self.summary, self.message, self.rows_box):
            widget.close()
        super().close()
