"""How a Job, a JobArray and a Queue show in a notebook: ONE path, whatever way the user showed
it (the last expression of a cell, ``display(...)``, ``%job status``, ``%%job submit``): their
``_ipython_display_`` calls ``show``.

In a kernel, a job (array) that has not ended is its live widget (``JobWidget``,
``ArrayWidget``) and a queue its live ``QueuePanel``, displayed through ``live_views`` (a display
id, a static fallback beside the view); when the job ends its output becomes the final card
(state, elapsed time, error, the run's summary, its final plot, the last lines of its output,
how to run it again). A job already ended shows that final card at once: no widget, no thread.
Outside a kernel (a terminal IPython) the same cards are shown as HTML and text."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..client import Queue
from ..display import (
    array_html,
    final_job_html,
    final_job_text,
    job_html,
    live_array_fallback,
    live_job_fallback,
    queue_html,
)
from ..job import Job
from ..job_array import JobArray
from ..model import TERMINAL
from .array_view import ArrayWidget
from .data_plot import data_png
from .follow import OutputFollower
from .job_widget import JobWidget
from .live_views import LiveView, install, kernel_shell
from .queue_panel import QueuePanel

TAIL_LINES = 15           # the last lines of output a final card shows


def show(thing: Job | JobArray | Queue) -> None:
    """Display ``thing`` in the notebook: live while it can change, its final card once not."""
    if isinstance(thing, Job):
        show_job(thing)
    elif isinstance(thing, JobArray):
        show_array(thing)
    else:
        show_queue(thing)


def show_job(job: Job) -> None:
    record = job.refresh().last_read          # one read (.record would read again)
    shell = kernel_shell()
    if record.state in TERMINAL:
        if not _shown_live_in_this_cell(job, shell):
            _display(final_job_bundle(job))
        return
    if shell is None:
        _display({"text/plain": repr(job), "text/html": job_html(job, record)})
        return
    _show_live(job, shell, JobWidget, _job_final, live_job_fallback(job))


def _shown_live_in_this_cell(thing: Job | JobArray, shell: Any) -> bool:
    """Was it shown live earlier in the cell running now? (``%%job submit --wait`` shows it
    while it waits and returns it: its live output already became the final card.)"""
    shown_in = getattr(thing.live_view, "shown_in", None)
    return shell is not None and shown_in == shell.execution_count


def show_array(array: JobArray) -> None:
    record = array.refresh().last_read
    shell = kernel_shell()
    if record.terminal or shell is None:
        if not _shown_live_in_this_cell(array, shell):
            _display({"text/plain": repr(array), "text/html": array_html(array)})
        return
    _show_live(array, shell, ArrayWidget, _array_final, live_array_fallback(array))


def _show_live(thing: Job | JobArray, shell: Any, widget_class: Any,
               final: Callable[[Any], dict[str, str]], fallback: dict[str, str]) -> None:
    """Display ``thing`` as a new live widget of ``widget_class`` (its output becomes
    ``final(widget)`` when it ends), remembered as the thing's live view of this cell."""
    install(shell)
    view = LiveView(None, final=final)
    view.widget = widget_class(thing, on_end=view.ended)
    view.widget.shown_in = shell.execution_count
    thing.live_view = view.widget
    view.show(fallback)


def show_queue(queue: Queue) -> None:
    """The live queue panel in a kernel (live until its output is gone), else the listing."""
    if kernel_shell() is None:
        _display({"text/plain": repr(queue), "text/html": queue_html(queue)})
        return
    QueuePanel(queue)._ipython_display_()


def final_job_bundle(job: Job) -> dict[str, str]:
    """The final card of a job that ended, read from its files (no widget)."""
    record = job.last_read
    png: bytes | None = None
    summary: dict[str, Any] = {}
    if record.kind == "experiment" and job.data_path.exists():
        try:
            png, summary = data_png(job)
        except Exception:  # noqa: BLE001 - a damaged data file: the card without its plot
            png, summary = None, {}
    outputs = OutputFollower(job).read(terminal=True, kind=record.kind) or []
    return _job_bundle(job, record, summary, png, output_tail(outputs))


def _job_final(widget: JobWidget) -> dict[str, str]:
    """The final card of a live job widget, from what it already shows."""
    job, record = widget.job, widget.job.last_read
    png = bytes(widget.plot.image.value) or None
    return _job_bundle(job, record, widget.plot.summary, png, output_tail(widget.output.outputs))


def _job_bundle(job: Job, record: Any, summary: dict[str, Any], png: bytes | None,
                tail: str) -> dict[str, str]:
    return {"text/plain": final_job_text(job, record, summary),
            "text/html": final_job_html(job, record, summary, png, tail)}


def _array_final(widget: ArrayWidget) -> dict[str, str]:
    array = widget.array
    html = array_html(array)
    png = bytes(widget.plot.image.value) if widget.plot is not None else b""
    if png:
        import base64
        html += (f'<img class="jobmagics-plot" style="max-width:32em" alt="{array.id}"'
                 f' src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}"/>')
    return {"text/plain": repr(array), "text/html": html}


def output_tail(outputs: Any, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` lines of a job's text output (streams and errors) from nbformat
    outputs."""
    texts = []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            texts.append(str(output.get("text", "")))
        elif kind == "error":
            texts.append(f"{output.get('ename', '')}: {output.get('evalue', '')}\n")
    return "\n".join("".join(texts).rstrip("\n").splitlines()[-lines:])


def _display(bundle: dict[str, str]) -> None:
    from IPython.display import display
    display(bundle, raw=True)
