"""The expandable list of an array's elements inside the array widget: a page of 100 at a
time (previous / next), each element's index, id, state, progress and elapsed time, and a
"Show" toggle that opens the element's own live job widget below the list (one at a time).
Read only while expanded."""
from __future__ import annotations

import contextlib
import html
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from ..display import bar_style, row_status_html
from ..model import State
from .job_widget import JobWidget

if TYPE_CHECKING:
    from ..job import Job
    from ..job_array import JobArray

PAGE = 100


class ElementRow(w.HBox):
    """One element; updated in place so the front end keeps its views."""

    def __init__(self, owner: ElementList, job: Job) -> None:
        self.job = job
        self.cells = w.HTML(layout=w.Layout(width="60%"))
        self.bar = w.FloatProgress(min=0.0, max=1.0, layout=w.Layout(width="20%"))
        self.show_button = w.ToggleButton(description="Show", icon="eye", value=False,
                                          layout=w.Layout(width="auto"))
        self.show_button.observe(lambda change: owner.show(self.job, change.new), "value")
        super().__init__([self.cells, self.bar, self.show_button])
        self.state = ""
        self.update(job)

    def update(self, job: Job) -> None:
        self.job = job
        record = job.last_read
        self.state = record.state.value
        self.cells.value = (f"[{record.array_index}] <code>{html.escape(job.id)}</code>"
                            f" · {row_status_html(job, record)}")
        self.bar.value = 1.0 if record.state is State.COMPLETED else float(record.progress or 0.0)
        self.bar.bar_style = bar_style(record.state.value)

    def widgets(self) -> tuple[w.Widget, ...]:
        return (self, self.cells, self.bar, self.show_button)


class ElementList(w.VBox):
    """The elements of ``array``, a page at a time, behind an "Elements" toggle."""

    def __init__(self, array: JobArray, **kwargs: Any) -> None:
        self.array = array
        self.offset = 0
        self.toggle = w.ToggleButton(description="Elements", icon="list", value=False,
                                     tooltip="list the array's elements",
                                     layout=w.Layout(width="auto", align_self="flex-start"))
        self.previous = w.Button(description="Previous", icon="chevron-left",
                                 layout=w.Layout(width="auto"))
        self.next = w.Button(description="Next", icon="chevron-right",
                             layout=w.Layout(width="auto"))
        self.position = w.Label()
        self.rows_box = w.VBox()
        self.detail = w.VBox()                  # the shown element's live job widget
        self.body = w.VBox([w.HBox([self.previous, self.position, self.next]), self.rows_box,
                            self.detail], layout=w.Layout(display="none"))
        super().__init__([self.toggle, self.body], **kwargs)
        self.rows: list[ElementRow] = []
        self.shown: JobWidget | None = None
        self._lock = threading.RLock()
        self.toggle.observe(lambda _c: self._expand(), "value")
        self.previous.on_click(lambda _b: self.turn(-PAGE))
        self.next.on_click(lambda _b: self.turn(PAGE))

    @property
    def expanded(self) -> bool:
        return bool(self.toggle.value)

    def _expand(self) -> None:
        self.body.layout.display = "" if self.expanded else "none"
        if not self.expanded:
            self.show(None, False)
        self.refresh()

    def turn(self, step: int) -> None:
        """Show the page ``step`` elements further (negative: back)."""
        with self._lock:
            self.show(None, False)
            self.offset = max(0, min(self.offset + step, self._last_page()))
            self.refresh()

    def _last_page(self) -> int:
        size = self.array.last_read.size
        return max(0, (size - 1) // PAGE * PAGE)

    def refresh(self) -> None:
        """Read the page shown again (nothing while collapsed)."""
        if not self.expanded:
            return
        with self._lock:
            jobs = self.array.elements_page(offset=self.offset, limit=PAGE)
            size = self.array.last_read.size
            with contextlib.ExitStack() as stack:
                for widget in (self.rows_box, self.position, self.previous, self.next,
                               *(x for row in self.rows for x in row.widgets())):
                    stack.enter_context(widget.hold_sync())
                self._update_rows(jobs)
                last = self.offset + len(jobs)
                self.position.value = (f"{self.offset + 1:,} to {last:,} of {size:,}" if jobs
                                       else f"none of {size:,}")
                self.previous.disabled = self.offset == 0
                self.next.disabled = last >= size

    def _update_rows(self, jobs: list[Job]) -> None:
        for row, job in zip(self.rows, jobs, strict=False):
            row.update(job)
        for row in self.rows[len(jobs):]:
            for widget in row.widgets():
                widget.close()
        self.rows = self.rows[:len(jobs)] + [ElementRow(self, job) for job in jobs[len(self.rows):]]
        if tuple(self.rows) != self.rows_box.children:
            self.rows_box.children = tuple(self.rows)

    def show(self, job: Job | None, visible: bool) -> None:
        """Open ``job``'s live widget below the list (closing the one shown), or close it;
        ``job=None``: close whichever is shown."""
        with self._lock:
            target = job.id if visible and job is not None else None
            shown = self.shown
            if shown is not None and shown.job.id != target and (
                    visible or job is None or shown.job.id == job.id):
                shown.close()
                self.shown = None
                self.detail.children = ()
            if job is not None and target is not None and self.shown is None:
                self.shown = JobWidget(job)
                self.detail.children = (self.shown,)
            if visible or job is None:          # one element's widget at a time
                for row in self.rows:
                    if row.job.id != target:
                        row.show_button.value = False

    def close(self) -> None:
        self.show(None, False)
        for row in self.rows:
            for widget in row.widgets():
                widget.close()
        for widget in (self.toggle, self.previous, self.next, self.position, self.rows_box,
                       self.detail, self.body):
            widget.close()
        super().close()
