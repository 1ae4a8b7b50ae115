"""The live job widget: id, name, user, state, progress and stage, elapsed time, the job's
output as it is produced, an experiment's data plotted as it arrives (its fit drawn over it and
its summary shown when it completes), and cancel / retry buttons. Plain ipywidgets, no custom
JavaScript. ``state`` is a synced trait: a front end (or a test) reads the job's state from
the model itself."""
from __future__ import annotations

import contextlib
import html
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w
from traitlets import Unicode

from ..display import bar_style, elapsed, error_html, state_html, summary_html
from ..errors import JobmagicsError
from ..formats import format_duration, progress_text
from ..model import TERMINAL, State
from .data_plot import DataPlot
from .follow import OutputFollower
from .poller import shared_poller

if TYPE_CHECKING:
    from ..job import Job

INDETERMINATE = "jobmagics-indeterminate"
# a striped, moving bar for running jobs that report no progress (CSS only)
_STYLE = ("<style>.jobmagics-indeterminate .progress-bar{background-image:linear-gradient(45deg,"
          "rgba(255,255,255,.35) 25%,transparent 25%,transparent 50%,rgba(255,255,255,.35) 50%,"
          "rgba(255,255,255,.35) 75%,transparent 75%,transparent);background-size:1rem 1rem;"
          "animation:jobmagics-stripes 1s linear infinite}@keyframes jobmagics-stripes{from{"
          "background-position:1rem 0}to{background-position:0 0}}</style>")


class JobWidget(w.VBox):
    """Shows one job and keeps itself up to date through the kernel's shared poller.
    ``on_end`` is called once, from whichever thread saw the job end (the live display
    replaces the widget by the job's final card then)."""

    state = Unicode("", help="the job's state, as last read").tag(sync=True)

    def __init__(self, job: Job, on_end: Callable[[JobWidget], None] | None = None,
                 **kwargs: Any) -> None:
        self.job = job
        self.header = w.HTML()
        self.bar = w.FloatProgress(min=0.0, max=1.0, value=0.0, layout=w.Layout(width="50%"))
        self.stage = w.Label()
        self.output = w.Output(layout=w.Layout(max_height="24em", overflow="auto"))
        self.plot = DataPlot(job)               # shown once the job writes data/<id>.h5
        self.summary = w.HTML()                 # an experiment's summary, once it completed
        self.cancel_button = w.Button(description="Cancel", icon="stop", button_style="warning",
                                      layout=w.Layout(width="auto"))
        self.retry_button = w.Button(description="Retry", icon="redo",
                                     layout=w.Layout(width="auto"))
        self.message = w.HTML()
        self.cancel_button.on_click(lambda _b: self._act(self.job.queue.cancel))
        self.retry_button.on_click(lambda _b: self._act(self.job.queue.retry, new_attempt=True))
        style = w.HTML(_STYLE, layout=w.Layout(display="none"))   # sent once, not every tick
        super().__init__(children=[
            style, self.header, w.HBox([self.bar, self.stage]), self.plot.image, self.summary,
            self.output,
            w.HBox([self.cancel_button, self.retry_button, self.message])], **kwargs)
        self.add_class("jobmagics-job-widget")
        self._lock = threading.RLock()          # the poller thread and button clicks both update
        self._follower = OutputFollower(job)
        self._record: Any = None                # the job as last read: polling reads only on change
        self._last_second = -1
        self.on_end = on_end
        self.refresh()
        if not self._finished():
            shared_poller().subscribe(self)

    def __repr__(self) -> str:
        return f"JobWidget({self.job.id!r})"

    # ---- updating ---------------------------------------------------------------------
    @property
    def queue(self) -> Any:
        return self.job.queue

    def poll(self, changed: bool) -> bool:
        """Called by the poller: re-read the job only if the queue changed; tick the elapsed
        time of a running job once a second, and look whether its worker is still alive;
        follow the output files (a stat when idle)."""
        if self.comm is None:                   # closed
            return False
        with self._lock:
            ticking = (self._record.state is State.RUNNING
                       and int(time.time()) != self._last_second)
            if changed or ticking:
                self.refresh(reread=changed)
            else:
                self._follow_output()
            if self.comm is None:               # it ended: its live display closed it
                return False
            with self.plot.image.hold_sync():
                self.plot.update(final=self._finished())
            return not self._finished()

    def refresh(self, reread: bool = True) -> None:
        with self._lock:
            before = self._record
            if reread or before is None:
                self._record = self.job.refresh().last_read      # one read, not two
            elif before.state is State.RUNNING:    # a worker's death writes nothing: look
                self.job.queue.mark_lost_workers([before])
            record, second = self._record, int(time.time())
            if reread and record == before and second == self._last_second:
                self._follow_output()               # another job's change (or a heartbeat)
                return
            self._last_second = second
            with self._held():
                self._show_record(record)
                self._follow_output(terminal=record.state in TERMINAL)
                if record.state in TERMINAL:
                    self.plot.update(final=True)
                    self.summary.value = summary_html(self.plot.summary)
            if record.state in TERMINAL and self.on_end is not None:
                ended, self.on_end = self.on_end, None
                ended(self)

    def _show_record(self, record: Any) -> None:
        state = record.state.value
        self.state = state
        name = f" <b>{html.escape(record.name)}</b>" if record.name else ""
        took = format_duration(elapsed(self.job, record=record))
        self.header.value = (
            f"<code>{html.escape(self.job.id)}</code>{name} · {html.escape(record.user)}"
            f" · {state_html(record)} · <span class='jobmagics-elapsed'>{took}</span>"
            + (f"<br>{error_html(record.error)}" if record.error else ""))
        self._show_progress(record)
        self.cancel_button.disabled = record.state in TERMINAL
        self.retry_button.disabled = record.state not in (State.FAILED, State.CANCELLED,
                                                          State.TIMEOUT)

    def _show_progress(self, record: Any) -> None:
        indeterminate = record.state is State.RUNNING and record.progress is None
        if indeterminate:
            self.bar.value = 1.0
            self.bar.add_class(INDETERMINATE)
        else:
            self.bar.remove_class(INDETERMINATE)
            done = record.state is State.COMPLETED
            self.bar.value = 1.0 if done else float(record.progress or 0.0)
        self.bar.bar_style = bar_style(record.state.value)
        self.stage.value = progress_text(record.progress, record.stage) or record.state.value

    def _follow_output(self, terminal: bool = False) -> None:
        outputs = self._follower.read(terminal, kind=self._record.kind)
        if outputs is not None:
            self.output.outputs = tuple(outputs)

    def _finished(self) -> bool:
        return self._record is not None and self._record.state in TERMINAL

    @contextlib.contextmanager
    def _held(self) -> Any:
        """One batch of state updates per widget instead of one message per trait."""
        with contextlib.ExitStack() as stack:
            for widget in (self, self.header, self.bar, self.stage, self.summary, self.output,
                           self.cancel_button, self.retry_button):
                stack.enter_context(widget.hold_sync())
            yield

    # ---- buttons ----------------------------------------------------------------------
    def _act(self, action: Any, new_attempt: bool = False) -> None:
        try:
            action(self.job.id)
        except JobmagicsError as exc:
            self.message.value = error_html(str(exc))
            return
        self.message.value = ""
        with self._lock:
            if new_attempt:                      # a retry starts with an empty output
                self._follower.reset()
                self.output.outputs = ()
            self.refresh()
        if not self._finished():
            shared_poller().subscribe(self)

    def close(self) -> None:
        shared_poller().unsubscribe(self)
        self.plot.close()
        for child in (self.header, self.bar, self.stage, self.summary, self.output,
                      self.cancel_button, self.retry_button, self.message, *self.children):
            child.close()
        super().close()
