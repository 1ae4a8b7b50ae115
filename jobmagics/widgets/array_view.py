"""The live array widget: one array's id, name, aggregated state, its elements counted per
state as a stacked bar, progress (the fraction of elements that ended), elapsed time, cancel
and retry of the whole array, an expandable list of its elements (a page of 100 at a time;
each can show its own live job widget) and, for an experiment sweep, a live plot of the
results so far. Plain ipywidgets, no custom JavaScript.

Kept up to date by the kernel's shared poller (``widgets.poller``): it wakes when the queue's
database changes (inotify, confirmed by ``data_version``) and this widget reads the array again
only then; from that thread it only sets trait values, in one batch (``hold_sync``), and never
prints. It stops when the array ended (``on_end``: a live display becomes the array's card)
and on ``close()``."""
from __future__ import annotations

import contextlib
import html
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from traitlets import Dict

from ..display import array_elapsed, bar_style, counts_bar_html, error_html, state_badge
from ..errors import JobmagicsError
from ..formats import format_duration
from ..model import State
from .array_elements import ElementList
from .poller import shared_poller
from .sweep_plot import SweepPlot

if TYPE_CHECKING:
    from ..arrays import ArrayRecord
    from ..job_array import JobArray

class ArrayWidget(w.VBox):
    """Shows one array and keeps itself up to date through the kernel's shared poller.
    ``y``: for an experiment sweep, the summary entry to plot (default: its first number)."""

    counts = Dict(help="elements per state, as last read").tag(sync=True)

    def __init__(self, array: JobArray, y: str | None = None,
                 on_end: Callable[[ArrayWidget], None] | None = None, **kwargs: Any) -> None:
        self.array = array
        self.on_end = on_end        # called once when the array ended (see JobWidget)
        self.header = w.HTML()
        self.stack = w.HTML()
        self.bar = w.FloatProgress(min=0.0, max=1.0, value=0.0, layout=w.Layout(width="50%"))
        self.progress_label = w.Label()
        self.cancel_button = w.Button(description="Cancel all", icon="stop",
                                      tooltip="cancel every element not ended",
                                      button_style="warning", layout=w.Layout(width="auto"))
        self.retry_button = w.Button(description="Retry", icon="redo",
                                     tooltip="run the failed, cancelled and timed-out elements"
                                             " again", layout=w.Layout(width="auto"))
        self.message = w.HTML()
        self.cancel_button.on_click(lambda _b: self._act(self.array.cancel))
        self.retry_button.on_click(lambda _b: self._act(self.array.retry))
        self.elements = ElementList(array)
        self._lock = threading.RLock()          # the poller thread and button clicks both update
        self._record = array.refresh().last_read
        self.plot = SweepPlot(array, y=y) if self._record.kind == "experiment" else None
        super().__init__(children=[
            self.header, self.stack, w.HBox([self.bar, self.progress_label]),
            *([self.plot.image] if self.plot else []),
            w.HBox([self.cancel_button, self.retry_button, self.message]), self.elements],
            **kwargs)
        self.add_class("jobmagics-array-widget")
        self._last_second = -1
        self.state = ""
        self.refresh(reread=False)
        if not self.finished:
            shared_poller().subscribe(self)

    def __repr__(self) -> str:
        return f"ArrayWidget({self.array.id!r})"

    @property
    def queue(self) -> Any:
        return self.array.queue

    @property
    def finished(self) -> bool:
        return self._record.terminal

    # ---- updating ---------------------------------------------------------------------
    def poll(self, changed: bool) -> bool:
        """Called by the poller: read the array again only if the queue changed; tick the
        elapsed time once a second while elements run; draw new sweep points when due."""
        if self.comm is None:                   # closed
            return False
        with self._lock:
            ticking = (self._record.started_at is not None and not self.finished
                       and int(time.time()) != self._last_second)
            if changed or ticking:
                self.refresh(reread=changed)
            elif self.plot is not None:
                with self.plot.image.hold_sync():
                    self.plot.update(self._record)
            return not self.finished

    def refresh(self, reread: bool = True) -> None:
        with self._lock:
            if reread:
                self._record = self.array.refresh().last_read
            record = self._record
            self._last_second = int(time.time())
            with self._held():
                self._show(record)
                if reread:
                    self.elements.refresh()
                if self.plot is not None:
                    self.plot.update(record, final=record.terminal)
            if record.terminal and self.on_end is not None:
                ended, self.on_end = self.on_end, None
                ended(self)

    def _show(self, record: ArrayRecord) -> None:
        self.state = record.state.value
        self.counts = {s.value: record.counts.get(s.value, 0) for s in State}
        name = f" <b>{html.escape(record.name)}</b>" if record.name else ""
        throttle = f" · at most {record.parallel} at once" if record.parallel else ""
        took = format_duration(array_elapsed(record))
        self.header.value = (
            f"<code>{html.escape(record.id)}</code>{name} · {html.escape(record.user)}"
            f" · {state_badge(record.state.value)} · {record.size:,} {record.kind} elements"
            f"{throttle} · <span class='jobmagics-elapsed'>{took}</span>")
        self.stack.value = counts_bar_html(record.counts, record.size, "100%", legend=True)
        self.bar.value = record.progress
        self.bar.bar_style = bar_style(record.state.value)
        running = record.counts.get("running", 0)
        self.progress_label.value = (f"{record.ended:,}/{record.size:,} ended"
                                     + (f", {running:,} running" if running else ""))
        self.cancel_button.disabled = record.active == 0
        self.retry_button.disabled = not record.retryable

    @contextlib.contextmanager
    def _held(self) -> Any:
        """One batch of state updates per widget instead of one message per trait."""
        with contextlib.ExitStack() as stack:
            for widget in (self, self.header, self.stack, self.bar, self.progress_label,
                           self.cancel_button, self.retry_button,
                           *([self.plot.image] if self.plot else [])):
                stack.enter_context(widget.hold_sync())
            yield

    # ---- buttons ----------------------------------------------------------------------
    def _act(self, action: Any) -> None:
        try:
            action()
        except JobmagicsError as exc:
            self.message.value = error_html(str(exc))
            return
        self.message.value = ""
        self.refresh()
        if not self.finished:
            shared_poller().subscribe(self)

    def close(self) -> None:
        shared_poller().unsubscribe(self)
        self.elements.close()
        if self.plot is not None:
            self.plot.close()
        for child in (self.header, self.stack, self.bar, self.progress_label,
                      self.cancel_button, self.retry_button, self.message, *self.children):
            child.close()
        super().close()
