"""Job arrays on the command line: ``submit --array``, an array's ``status``, its line in
``wait`` and in ``queue`` (a move's line per array: ``display.move_lines``)."""
from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from ..arrays import ArrayRecord, parse_array_spec
from ..client import Queue
from ..display import array_elapsed, array_progress_text, counts_text
from ..formats import format_duration, progress_text
from ..job_array import JobArray
from .tables import jobs_table, table, timestamp


def submit_array(queue: Queue, spec: str, options: dict[str, Any]) -> JobArray:
    """One element per index of ``spec`` (``0-99%4``): ``{index}`` and ``{item}`` (both the
    index) in a command's arguments, the variables ``index`` and ``item`` in python code. The
    spec is read before anything is queued."""
    indexes, parallel = parse_array_spec(spec)
    return queue.submit_array(items=indexes, indexes=indexes, parallel=parallel, **options)


def elapsed_text(record: ArrayRecord, now: float) -> str:
    """How long the array has run, or ``waiting 42s`` since its submission."""
    if record.started_at is None:
        return f"waiting {format_duration(now - record.submitted_at)}"
    return format_duration(array_elapsed(record, now))


def arrays_table(arrays: Sequence[JobArray]) -> str:
    """One line per array: id, state, user, name, progress, time and its counts per state."""
    now = time.time()
    rows = []
    for array in arrays:
        r = array.last_read              # as the listing read it
        rows.append([r.id, r.state.value, r.user, r.name or "-", f"{r.size:,}",
                     progress_text(r.progress, None), elapsed_text(r, now),
                     counts_text(r.counts)])
    return table(["ARRAY", "STATE", "USER", "NAME", "SIZE", "PROG", "TIME", "ELEMENTS"], rows)


def array_detail(array: JobArray, elements: Sequence[Any], offset: int, shown_of: int) -> str:
    """The array's fields, then a page of its elements (``shown_of``: how many the filter
    matches, to say how many more there are)."""
    r = array.record
    throttle = f"at most {r.parallel} at once" if r.parallel else "no limit"
    rows = [("array", r.id), ("name", r.name or "-"), ("kind", r.kind), ("state", r.state.value),
            ("user", f"{r.user}@{r.host}"), ("size", f"{r.size:,} elements ({throttle})"),
            ("elements", counts_text(r.counts)), ("progress", array_progress_text(r)),
            ("submitted", timestamp(r.submitted_at)), ("started", timestamp(r.started_at)),
            ("finished", timestamp(r.finished_at)), ("elapsed", elapsed_text(r, time.time())),
            ("backend", r.backend)]
    lines = [f"{name:>10}  {value}" for name, value in rows]
    lines += ["", jobs_table(elements) if elements else "no elements on this page"]
    after = shown_of - offset - len(elements)
    if after > 0:
        lines.append(f"... and {after:,} more (jobmagics status {r.id}"
                     f" --offset {offset + len(elements)})")
    return "\n".join(lines)


def unfinished_line(target: Any) -> str:
    """Why ``wait`` exits non-zero for this job or array."""
    if isinstance(target, JobArray):
        return f"{target.id} {target.state.value} ({counts_text(target.counts)})"
    return f"{target.id} {target.state.value}" + (f": {target.error}" if target.error else "")
