"""``JobArray``: a handle on one array of a queue (its elements are ``Job``s)."""
from __future__ import annotations

import copy
import importlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .arrays import ArrayRecord, element_id
from .errors import InvalidJob, WaitTimeout
from .job import Job
from .kinds import kind as registered_kind
from .model import TERMINAL, JobSpec, State, parse_states

if TYPE_CHECKING:
    from .client import Queue

LIVE_DISPLAY = f"{__package__}.widgets.live_display"
_FIRST_POLL_S = 0.002
_MAX_POLL_S = 0.1


class JobArray:
    """An array of jobs: one id, N elements, one aggregated state. Attributes read the queue
    again until every element ended."""

    def __init__(self, queue: Queue, array_id: str, record: ArrayRecord | None = None) -> None:
        self.queue = queue
        self.id = array_id
        self._record = record
        self.live_view: Any = None      # the live widget it was last displayed as

    def __repr__(self) -> str:
        record = self.record
        label = f" {record.name!r}" if record.name else ""
        counts = ", ".join(f"{n} {s}" for s, n in record.counts.items() if n)
        return f"<JobArray {self.id}{label} {record.state.value}: {counts}>"

    def _repr_html_(self) -> str:
        from .display import array_html
        return array_html(self)

    def _ipython_display_(self) -> None:
        """Shown in a notebook: its live widget until every element ended, then its card
        (``widgets.live_display``, found by name as ``Job``'s is)."""
        importlib.import_module(LIVE_DISPLAY).show(self)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, JobArray) and other.id == self.id
                and other.queue.path == self.queue.path)

    def __hash__(self) -> int:
        return hash((self.id, str(self.queue.path)))

    def __len__(self) -> int:
        return self.record.size

    def __iter__(self) -> Iterator[Job]:
        return iter(self.elements)

    # ---- state ------------------------------------------------------------------------
    def refresh(self) -> JobArray:
        self._record = self.queue.store.array(self.id)
        return self

    @property
    def record(self) -> ArrayRecord:
        """The array as stored now (read again on every access until every element ended)."""
        if self._record is None or not self._record.terminal:
            self.refresh()
        assert self._record is not None
        return self._record

    @property
    def last_read(self) -> ArrayRecord:
        if self._record is None:
            self.refresh()
        assert self._record is not None
        return self._record

    state = property(lambda self: self.record.state,
                     doc="running while any element runs; once all ended, completed if all"
                         " completed, failed if any failed, else cancelled (or timeout)")
    counts = property(lambda self: {s.value: self.record.counts.get(s.value, 0) for s in State},
                      doc="elements per state")
    progress = property(lambda self: self.record.progress, doc="the fraction of elements ended")
    size = property(lambda self: self.record.size)
    parallel = property(lambda self: self.record.parallel)
    name = property(lambda self: self.record.name)
    kind = property(lambda self: self.record.kind)
    user = property(lambda self: self.record.user)
    submitted_at = property(lambda self: self.record.submitted_at)

    @property
    def done(self) -> bool:
        return self.record.terminal

    @property
    def elements(self) -> list[Job]:
        """Every element, by index."""
        return self.elements_page(limit=None)

    def elements_page(self, offset: int = 0, limit: int | None = 100,
                      state: str | Sequence[str] | None = None) -> list[Job]:
        """``limit`` elements (of ``state``) from ``offset``, by index."""
        records = self.queue.store.elements(self.id, states=parse_states(state), limit=limit,
                                            offset=offset)
        return [Job(self.queue, r.id, r) for r in self.queue.mark_lost_workers(records)]

    def element(self, index: int) -> Job:
        """The element with this index (``--array 1,5,7``: indexes 1, 5 and 7)."""
        return self.queue.get(element_id(self.id, index))

    def to_dict(self) -> dict[str, Any]:
        return self.last_read.to_dict()

    # ---- waiting ----------------------------------------------------------------------
    def wait(self, timeout: float | None = None) -> JobArray:
        """Block until every element ended; returns the array. ``WaitTimeout`` after
        ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        interval, seen = _FIRST_POLL_S, None
        while True:
            version = self.queue.data_version()
            if version != seen:
                seen = version
                if self.refresh().done:
                    return self
            if deadline is not None and time.monotonic() >= deadline:
                counts = ", ".join(f"{n} {s}" for s, n in self.counts.items()
                                   if n and State(s) not in TERMINAL)
                raise WaitTimeout(f"{self.id} has elements still active after {timeout} s"
                                  f" ({counts})")
            time.sleep(interval)
            interval = min(interval * 1.5, _MAX_POLL_S)

    async def wait_async(self, timeout: float | None = None) -> JobArray:
        import anyio  # only for who awaits
        await anyio.to_thread.run_sync(self.wait, timeout)
        return self

    def results(self, timeout: float | None = None, *, trust: bool = False) -> list[Any]:
        """Wait, then every element's result in index order (function values, or a python
        job's pulled variables). The first element that did not complete raises
        ``JobFailed`` (its own exception as the cause)."""
        self.wait(timeout)
        return [job.result(trust=trust) for job in self.elements]

    # ---- acting -----------------------------------------------------------------------
    def cancel(self) -> JobArray:
        """Cancel every element that has not ended (running ones are asked to stop)."""
        self.queue.apply("cancel", [self.id])
        return self.refresh()

    def retry(self) -> JobArray:
        """Run the failed, cancelled and timed-out elements again (the completed ones stay)."""
        self.queue.apply("retry", [self.id])
        return self.refresh()

    def hold(self) -> JobArray:
        self.queue.apply("hold", [self.id])
        return self.refresh()

    def release(self) -> JobArray:
        self.queue.apply("release", [self.id])
        return self.refresh()


def array_elements_in_order(array: JobArray, page: int = 1000) -> Iterator[Job]:
    """The elements by index, read a page at a time (a big array is not read at once)."""
    offset = 0
    while True:
        found = array.elements_page(offset=offset, limit=page)
        yield from found
        if len(found) < page:
            return
        offset += page


# ---- building the elements of an array ----------------------------------------------------
def element_spec(first: JobSpec, index: int, item: Any, *,
                 function: Callable[..., Any] | None = None,
                 push: Mapping[str, Any] | None = None) -> tuple[JobSpec, bytes | None]:
    """The spec (and payload) of one element: ``first`` (validated once for the whole array),
    with the element's item put where its kind takes it."""
    kind = registered_kind(first.kind)
    if push and not kind.takes_variables:
        raise InvalidJob("push= sends variables into python code jobs only")
    build = _ELEMENT_BODIES.get(kind.keyword)
    if build is None:
        raise InvalidJob(f"{kind.name} jobs cannot form an array")
    spec = copy.copy(first)          # the settings shared (and checked once), not re-made
    for name, value in build(first, index, item, function, push).items():
        setattr(spec, name, value)
    kind.check(spec)
    return spec, spec.payload


def substitute(argument: str, index: int, item: Any) -> str:
    return argument.replace("{index}", str(index)).replace("{item}", str(item))


def _command_body(first: JobSpec, index: int, item: Any, *_: Any) -> dict[str, Any]:
    return {"command": [substitute(a, index, item) for a in first.command or []]}


def _code_body(first: JobSpec, index: int, item: Any, _: Any,
               push: Mapping[str, Any] | None) -> dict[str, Any]:
    from .payloads import dump_variables  # cloudpickle: only for these jobs
    variables: dict[str, Any] = {**(push or {}), "item": item, "index": index}
    if isinstance(item, Mapping) and all(isinstance(k, str) and k.isidentifier() for k in item):
        variables.update(item)          # a sweep's point: each name a variable
    return {"payload": dump_variables(list(variables), variables)}


def _function_body(first: JobSpec, index: int, item: Any,
                   function: Callable[..., Any] | None, _: Any) -> dict[str, Any]:
    from .payloads import dump_function  # cloudpickle: only for these jobs
    assert function is not None
    return {"payload": dump_function(function, (item,), {})}


def _experiment_body(first: JobSpec, index: int, item: Any, *_: Any) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise InvalidJob("an experiment array's items are dicts of config entries,"
                         f" e.g. {{'amplitude': 0.1}}, not {item!r:.60}")
    experiment = dict(first.experiment or {})
    experiment["config"] = {**experiment.get("config", {}), **item}
    return {"experiment": experiment}


_ELEMENT_BODIES: dict[str, Callable[..., dict[str, Any]]] = {
    "command": _command_body, "code": _code_body, "function": _function_body,
    "experiment": _experiment_body}
