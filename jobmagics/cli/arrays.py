"""Job arrays on the command line: ``submit --array``, an array's ``status``, its line in
``wait`` and in ``queue``, and one summary line per array for ``cancel``/``retry``/...."""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from ..arrays import ArrayRecord, parse_array_spec, split_element_id
from ..client import Queue
from ..display import array_elapsed, array_progress_text, counts_text
from ..formats import format_duration, progress_text
from ..job_array import JobArray
from ..model import State
from .tables import jobs_table, table, timestamp

PAST = {"cancel": "cancelled", "retry": "retried", "hold": "held", "release": "released",
        "delete": "deleted"}


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
        r = array.snapshot              # as the listing read it
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
