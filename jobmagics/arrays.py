"""Job arrays as plain data (no I/O): the ``--array`` spec, an array's record and its one
aggregated state.

An array is one submission of N element jobs. It takes one job id from the day's counter
(``JOB-20261129-00042``); its elements are that id, ``_`` and their index
(``JOB-20261129-00042_7``, as SLURM's ``1234_7``). Each element is an ordinary job (its own
state, log, retries and result) that records its ``array_id`` and ``array_index``. The array's
own row (``arrays`` table) keeps its size and its throttle: at most ``parallel`` elements are
pending or running at once, the others wait for a free slot (``store.lifecycle``).
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .checks import check_int
from .errors import InvalidJob
from .model import ACTIVE, RETRYABLE, TERMINAL, State

MAX_ELEMENTS = 1_000_000
MAX_INDEX = 999_999_999
_RANGE = re.compile(r"^(\d+)(?:-(\d+)(?::(\d+))?)?$")
ARRAY_SPEC_HELP = ("an array spec is like 0-99, 0-99:2 (every 2nd), 1,5,7 or 0-9,20-29,"
                   " optionally with %P (at most P elements run at once), e.g. 0-99%4")


def element_id(array_id: str, index: int) -> str:
    return f"{array_id}_{index}"


def split_element_id(job_id: str) -> tuple[str, int] | None:
    """(array id, index) of an element's id, None for any other id."""
    base, sep, index = job_id.rpartition("_")
    return (base, int(index)) if sep and index.isdigit() else None


def check_parallel(value: object) -> int | None:
    """How many elements may run at once (None: no limit)."""
    if value is None:
        return None
    return check_int("parallel", value, 1, MAX_ELEMENTS)


def parse_array_spec(text: object) -> tuple[list[int], int | None]:
    """``"0-99:2%4"`` -> the indexes ``[0, 2, ..., 98]`` and the throttle 4 (SLURM's
    ``--array`` forms: ranges, steps, lists, ``%P``). The indexes are the listed values."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidJob(f"bad array spec {text!r}: {ARRAY_SPEC_HELP}")
    spec, _, throttle = text.strip().partition("%")
    parallel = None
    if _:
        if not throttle.isdigit() or int(throttle) < 1:
            raise InvalidJob(f"bad array spec {text!r}: %P needs P >= 1 (at most P elements"
                             " run at once)")
        parallel = int(throttle)
    indexes: list[int] = []
    for part in spec.split(","):
        indexes.extend(_range(part.strip(), text))
    return check_indexes(indexes), parallel


def _range(part: str, text: str) -> range:
    match = _RANGE.match(part)
    if not match:
        raise InvalidJob(f"bad array spec {text!r}: {ARRAY_SPEC_HELP}")
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) is not None else first
    step = int(match.group(3)) if match.group(3) is not None else 1
    if last < first or step < 1:
        raise InvalidJob(f"bad array spec {text!r}: {part} is an empty range")
    if last > MAX_INDEX or (last - first) // step >= MAX_ELEMENTS:
        raise InvalidJob(f"bad array spec {text!r}: at most {MAX_ELEMENTS:,} elements,"
                         f" indexes up to {MAX_INDEX:,}")
    return range(first, last + 1, step)


def check_indexes(indexes: Sequence[int]) -> list[int]:
    """Distinct whole numbers 0..MAX_INDEX, at least one, at most MAX_ELEMENTS."""
    found = list(indexes)
    if not found:
        raise InvalidJob("an array needs at least one element (items is empty)")
    if len(found) > MAX_ELEMENTS:
        raise InvalidJob(f"an array holds at most {MAX_ELEMENTS:,} elements, not {len(found):,}")
    for index in found:
        check_int("array index", index, 0, MAX_INDEX)
    if len(set(found)) != len(found):
        raise InvalidJob("an array's indexes must be distinct")
    return found


def format_indexes(indexes: Sequence[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``"0-2,5"``."""
    parts: list[str] = []
    ordered = sorted(indexes)
    start = prev = ordered[0] if ordered else 0
    for index in [*ordered[1:], None]:
        if index is not None and index == prev + 1:
            prev = index
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if index is not None:
            start = prev = index
    return ",".join(parts)


def sweep_points(over: object) -> list[dict[str, Any]]:
    """Every combination of the values ``over`` gives (the last name varying fastest)."""
    if not isinstance(over, Mapping) or not over:
        raise InvalidJob("a sweep needs over={name: [values, ...]} with at least one name")
    names = list(over)
    for name in names:
        values = over[name]
        if not isinstance(name, str) or not name:
            raise InvalidJob(f"a sweep's names are text, not {name!r}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise InvalidJob(f"sweep {name}: give a list of values, not {values!r:.60}")
        if not list(values):
            raise InvalidJob(f"sweep {name}: no values to sweep over")
    return [dict(zip(names, point, strict=True))
            for point in itertools.product(*(list(over[n]) for n in names))]


@dataclass(kw_only=True)
class ArraySpec:
    """How one submission's jobs form an array: their indexes (in the order of the specs),
    the throttle, and (``extend``) the id of an existing array of the same user to add them
    to (an ``Executor`` adds an element per ``submit``)."""

    indexes: list[int]
    parallel: int | None = None
    extend: str | None = None

    def validate(self, count: int) -> ArraySpec:
        self.indexes = check_indexes(self.indexes)
        if len(self.indexes) != count:
            raise InvalidJob(f"{len(self.indexes)} indexes for {count} elements")
        self.parallel = check_parallel(self.parallel)
        return self


def aggregate_state(counts: Mapping[str, int]) -> State:
    """The array's state from its elements' states: running while any runs; then pending
    while any is pending, waiting while any waits; once all ended, completed if all
    completed, failed if any failed, else cancelled (timeout if that was the only other end)."""
    n = {s: counts.get(s.value, 0) for s in State}
    for state in (State.RUNNING, State.PENDING, State.WAITING):
        if n[state]:
            return state
    if n[State.FAILED]:
        return State.FAILED
    if n[State.CANCELLED]:
        return State.CANCELLED
    if n[State.TIMEOUT]:
        return State.TIMEOUT
    return State.COMPLETED


@dataclass(kw_only=True)
class ArrayRecord:
    """One array as stored: who submitted it, its throttle and its elements' counts."""

    id: str
    user: str
    host: str
    name: str | None
    kind: str
    backend: str
    size: int
    parallel: int | None
    submitted_at: float
    counts: dict[str, int] = field(default_factory=dict)    # state -> elements in it
    started_at: float | None = None      # the first element's start
    finished_at: float | None = None     # the last element's end, once all ended

    @property
    def state(self) -> State:
        return aggregate_state(self.counts)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def ended(self) -> int:
        return sum(self.counts.get(s.value, 0) for s in TERMINAL)

    @property
    def retryable(self) -> int:
        """Elements that ended without completing (what a retry of the array runs again)."""
        return sum(self.counts.get(s.value, 0) for s in RETRYABLE)

    @property
    def active(self) -> int:
        return sum(self.counts.get(s.value, 0) for s in ACTIVE)

    @property
    def progress(self) -> float:
        """The fraction of elements that ended."""
        return self.ended / self.size if self.size else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "user": self.user, "host": self.host, "name": self.name,
                "kind": self.kind, "backend": self.backend, "size": self.size,
                "parallel": self.parallel, "submitted_at": self.submitted_at,
                "started_at": self.started_at, "finished_at": self.finished_at,
                "counts": {s.value: self.counts.get(s.value, 0) for s in State},
                "state": self.state.value, "progress": self.progress, "array": True}
