"""``jobmagics.Executor``: a ``concurrent.futures.Executor`` whose calls are jobs of a queue.

All the calls of one Executor are the elements of one array: the first ``submit`` creates it,
later ones add to it (``submit_array(extend=)``). So ``parallel`` caps how many run at once
across every worker, each call is an ordinary job (log, retries, result kept in the queue),
and ``Executor.attach(array_id)`` finds the futures again after the notebook restarted.

While a future is open, one thread per Executor follows the queue (when its
``data_version`` changed): from the array's counts, it reads only as many open elements,
lowest index first, as account for those that started or ended; all of them every few seconds
(the counts are a guess once someone else retried or added elements). It alone sets futures
running and completes them. ``cancel()`` holds a job (refused once it runs), then cancels it.
"""
from __future__ import annotations

import bisect
import concurrent.futures as cf
import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from . import payloads
from .arrays import check_parallel, element_id
from .chunks import auto_chunksize, chunked, run_chunk, unchunked
from .client import Queue, shared_queue
from .errors import InvalidJob, InvalidTransition, JobFailed, JobNotFound, QueueError
from .fields import by_keyword
from .job import Job
from .job_array import JobArray
from .model import TERMINAL, JobRecord, JobSettings, State, check_job_id

_FIRST_POLL_S = 0.002
_MAX_POLL_S = 0.05
_FULL_LOOK_S = 2.0        # read every open element this often, whatever the counts say
_FIRST_PAGE = 32          # elements read first; each next page of one look is 4x bigger
_MAX_PAGE = 2000
_GIVE_UP_AFTER = 5        # looks failing in a row before the open futures fail with the error


def call_pickled(blob: bytes) -> Any:
    """Run in the job: the call ``Executor.submit`` pickled (``fn``, ``args``, ``kwargs``)."""
    function, args, kwargs = payloads.load(blob)
    return function(*args, **kwargs)


class JobFuture(cf.Future[Any]):
    """The future of one call, an element of its Executor's array: ``job_id``, ``index``,
    ``job``. ``cancel()`` cancels the job in the queue if it has not started."""

    def __init__(self, executor: Executor, array_id: str, index: int) -> None:
        super().__init__()
        self.executor = executor
        self.index = index
        self.job_id = element_id(array_id, index)

    @property
    def job(self) -> Job:
        return self.executor.queue.get(self.job_id)

    def cancel(self) -> bool:
        self.executor.cancel_pending([self])
        return self.cancelled()


class Executor(cf.Executor):
    """``concurrent.futures.Executor`` over a queue: ``submit(fn, *args, **kwargs)`` is one
    job, its future a ``concurrent.futures.Future``. ``queue`` (default: the shared default
    queue); ``parallel``: at most that many of its calls run at once, across all workers;
    ``job_options``: ``Queue.submit``'s options for every call (``name``, ``priority``,
    ``resources``, ``timeout``, ``retries``, ...)."""

    def __init__(self, queue: Queue | None = None, parallel: int | None = None,
                 **job_options: Any) -> None:
        known = by_keyword(JobSettings)
        unknown = sorted(set(job_options) - set(known))
        if unknown:
            raise InvalidJob(f"unknown job option {unknown[0]!r}; options are"
                             f" {', '.join(known)}")
        self.queue = queue if queue is not None else shared_queue()
        self.parallel = check_parallel(parallel)
        self.job_options = job_options
        self.array_id: str | None = None
        self._size = 0                            # the next element added takes this index
        self._futures: dict[int, JobFuture] = {}  # every future, by index
        self._open: dict[int, JobFuture] = {}     # not completed yet, in index order
        self._started: set[int] = set()           # open ones set running
        self._order: list[int] = []               # every element's index, ascending
        self._dense = True                        # _order is 0..N-1: an index is its position
        self._ended_outside = 0                   # ended elements that have no open future
        self._running_outside = 0
        self._last_full = 0.0
        self._lock = threading.Lock()             # the bookkeeping above (never held on I/O)
        self._submitting = threading.Lock()       # one submission at a time: its indexes
        self._shut = False
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<jobmagics.Executor {self.array_id or '(nothing submitted)'} on {self.queue}>"

    @property
    def array(self) -> JobArray | None:
        """The array holding this Executor's calls (None before the first ``submit``)."""
        return None if self.array_id is None else self.queue.array(self.array_id)

    @property
    def futures(self) -> list[JobFuture]:
        """Every future of this Executor, by index."""
        with self._lock:
            return list(self._futures.values())

    # ---- submitting -------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> JobFuture:
        """``fn(*args, **kwargs)`` as a job; nothing is queued if it cannot be pickled."""
        return self._add(call_pickled, [payloads.dump_function(fn, args, kwargs)], fn)[0]

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int | None = 1) -> Iterator[Any]:
        """``fn`` over the iterables, every call submitted before this returns; the results
        come in order, a call's exception is raised when it is reached, and ``timeout``
        (seconds from this call) raises ``TimeoutError``. ``chunksize`` calls per job (None:
        chosen from ``parallel`` or the live workers' slots, as ``Queue.map`` does)."""
        end = None if timeout is None else time.monotonic() + timeout
        calls = list(zip(*iterables, strict=False))
        if chunksize == 1:
            blobs = [payloads.dump_function(fn, args, {}) for args in calls]
            return self._in_order(self._add(call_pickled, blobs, fn) if blobs else [], end)
        size = self._chunk_size(len(calls), chunksize)
        payloads.dump_function(fn, (), {})          # one clear error for an unpicklable fn
        chunks = chunked(calls, size)
        added = self._add(functools.partial(run_chunk, fn), chunks, fn) if chunks else []
        return unchunked(self._in_order(added, end))

    def _chunk_size(self, count: int, chunksize: object) -> int:
        if chunksize is None:
            slots = self.parallel or sum(w["slots"] for w in self.queue.workers()) or 1
            return auto_chunksize(count, slots)
        if isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
            raise InvalidJob(f"chunksize must be a whole number >= 1 (or None: chosen for the"
                             f" workers), not {chunksize!r}")
        return chunksize

    def _add(self, function: Callable[..., Any], items: Sequence[Any],
             named: Callable[..., Any]) -> list[JobFuture]:
        """Submit one element per item (``function(item)``), in one transaction."""
        options = {"name": getattr(named, "__name__", None), **self.job_options}
        with self._submitting:
            if self._shut:
                raise RuntimeError("cannot schedule new futures after shutdown")
            first = self._size
            if self.array_id is None:
                self.array_id = self.queue.submit_array(function=function, items=items,
                                                        parallel=self.parallel, **options).id
            else:
                grown = self.queue.submit_array(function=function, items=items,
                                                extend=self.array_id, **options)
                _check_grown(grown.refresh(), first + len(items))
            self._size = first + len(items)
            added = [JobFuture(self, self.array_id, first + i) for i in range(len(items))]
            with self._lock:
                for future in added:
                    self._futures[future.index] = self._open[future.index] = future
                self._order.extend(future.index for future in added)
                self._dense = self._dense and first == len(self._order) - len(added)
                self._follow_in_background()
        return added

    def _in_order(self, added: list[JobFuture], end: float | None) -> Iterator[Any]:
        """Each future's result in order; the ones not reached are cancelled if the caller
        stops early (or one raised or timed out), as the standard library does."""
        left = added[::-1]
        try:
            while left:
                yield left[-1].result(None if end is None else end - time.monotonic())
                left.pop()
        finally:
            self.cancel_pending(left)

    # ---- cancelling and shutting down -------------------------------------------------
    def cancel_pending(self, wanted: Sequence[cf.Future[Any]]) -> None:
        """Cancel those of ``wanted`` whose jobs have not started, in the queue too (a few
        transactions for all of them); the others are left alone."""
        with self._lock:
            candidates = [f for f in wanted if isinstance(f, JobFuture)
                          and self._open.get(f.index) is f and f.index not in self._started]
        if not candidates:
            return
        held = self._hold([f.job_id for f in candidates])
        if held:
            self.queue.apply("cancel", sorted(held))
        for future in candidates:
            if future.job_id in held:
                failed = JobFailed(f"{future.job_id} cancelled", future.job_id, "cancelled")
                self._complete(future, (False, failed), cancelled=True)
        self._wake.set()

    def _hold(self, ids: list[str]) -> set[str]:
        """The jobs among ``ids`` that are now held, so that none of them can start (those
        that were not are held now; one that runs or ended already is left out)."""
        try:
            self.queue.apply("hold", ids)
            return set(ids)
        except InvalidTransition:
            pass
        for _ in range(3):                # one may start between the read and the hold
            waiting = self._not_started(ids)
            held = {e.id for e in waiting if e.held}
            if len(held) == len(waiting):
                return held
            try:
                self.queue.apply("hold", [e.id for e in waiting if not e.held])
                return {e.id for e in waiting}
            except InvalidTransition:
                continue
        return set()

    def _not_started(self, ids: list[str]) -> list[JobRecord]:
        """The jobs among ``ids`` that are waiting or pending (one read for many of them)."""
        assert self.array_id is not None
        states = (State.WAITING, State.PENDING)
        if len(ids) <= _FIRST_PAGE:
            found = [self.queue.store.get(job_id) for job_id in ids]
        else:
            wanted = set(ids)
            found = [e for e in self.queue.store.elements(self.array_id, states=list(states))
                     if e.id in wanted]
        return [e for e in found if e.state in states]

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._submitting:
            self._shut = True
        if cancel_futures:
            with self._lock:
                waiting = [f for i, f in self._open.items() if i not in self._started]
            self.cancel_pending(waiting)
        if wait:
            with self._lock:
                left, thread = list(self._open.values()), self._thread
            cf.wait(left)
            if thread is not None and thread is not threading.current_thread():
                thread.join()

    # ---- finding the futures again ----------------------------------------------------
    @classmethod
    def attach(cls, array_id: str, queue: Queue | None = None) -> Executor:
        """An Executor bound to an existing array of this queue, with a future per element
        (``futures``, by index): those that ended are done at once, the others complete as
        their jobs end. Its ``submit`` adds elements to that array."""
        q = queue if queue is not None else shared_queue()
        record = q.store.array(check_job_id(array_id))
        executor = cls(q, parallel=record.parallel)
        executor.array_id, executor._size = record.id, record.size
        executor._renumber()
        with executor._lock:
            executor._follow_in_background()
        return executor

    # ---- following the queue (the background thread) -----------------------------------
    def _follow_in_background(self) -> None:
        """Start the thread if a future is open and none runs (call with ``_lock`` held)."""
        self._wake.set()
        if self._thread is None and self._open:
            self._thread = threading.Thread(target=self._follow, daemon=True,
                                            name=f"jobmagics.Executor {self.array_id}")
            self._thread.start()

    def _follow(self) -> None:
        """Look whenever the queue changed, until no future is open. Never prints: what goes
        wrong reaches the futures (after a few failed looks in a row)."""
        seen, pause, failures = None, _FIRST_POLL_S, 0
        while True:
            with self._lock:
                if not self._open:
                    self._thread = None
                    return
            try:
                version = self.queue.data_version()
                full = time.monotonic() - self._last_full >= _FULL_LOOK_S
                if version != seen or full:
                    self._look(full)
                    seen, pause = version, _FIRST_POLL_S
                failures = 0
            except Exception as exc:  # noqa: BLE001 - handed to the futures, never printed
                failures += 1
                if failures >= _GIVE_UP_AFTER:
                    self._fail_open(exc)
            if self._wake.wait(pause):
                self._wake.clear()
                pause = _FIRST_POLL_S
            pause = min(pause * 1.5, _MAX_POLL_S)

    def _look(self, full: bool) -> None:
        """Bring the open futures up to date: read pages of open elements, lowest index first,
        until the counts are accounted for (or all of them, if ``full``)."""
        assert self.array_id is not None
        record = self.queue.store.array(self.array_id)
        running = record.counts.get(State.RUNNING.value, 0)
        with self._lock:
            wanted_running = running - self._running_outside
            wanted_ended = record.ended - self._ended_outside
        seen_running = seen_ended = 0
        for offset, limit in self._pages():
            if not full and seen_running >= wanted_running and seen_ended >= wanted_ended:
                return
            elements = self.queue.store.elements(self.array_id, offset=offset, limit=limit)
            if [e.array_index for e in elements] != self._order[offset:offset + limit]:
                self._renumber()           # an element was deleted: positions moved
                return
            for element in elements:
                started, ended = self._apply(element)
                seen_running, seen_ended = seen_running + started, seen_ended + ended
        with self._lock:                   # all read: what is not ours is outside
            self._last_full = time.monotonic()
            self._ended_outside = record.ended
            self._running_outside = max(0, running - seen_running)

    def _pages(self) -> Iterator[tuple[int, int]]:
        """(offset, limit) of the pages of open elements: runs of neighbours, lowest first,
        the first page short (what changed is usually among the lowest open elements)."""
        with self._lock:
            indexes, dense, order = list(self._open), self._dense, self._order
        size, start, length = _FIRST_PAGE, -1, 0
        for index in indexes:
            position = index if dense else bisect.bisect_left(order, index)
            if length and position == start + length and length < size:
                length += 1
                continue
            if length:
                yield start, length
                size = min(size * 4, _MAX_PAGE)
            start, length = position, 1
        if length:
            yield start, length

    def _renumber(self) -> None:
        """Read every element (at attach, or after one was deleted): their positions anew,
        and each open future brought up to date; one whose element is gone fails."""
        assert self.array_id is not None
        with self._lock:
            known = set(self._futures)
        elements = self.queue.store.elements(self.array_id)
        present = {e.array_index for e in elements if e.array_index is not None}
        with self._lock:                  # (keeping what a submit added meanwhile)
            self._order = sorted(present | {i for i in self._order if i not in known})
            self._dense = self._order == list(range(len(self._order)))
            for index in sorted(present - set(self._futures)):
                self._futures[index] = self._open[index] = JobFuture(self, self.array_id, index)
            gone = [f for i, f in self._open.items() if i in known and i not in present]
        ended = sum(self._apply(element)[1] for element in elements)
        with self._lock:
            self._last_full, self._ended_outside = time.monotonic(), ended
        for future in gone:
            self._complete(future, (False, JobNotFound(future.job_id)))

    def _apply(self, element: JobRecord) -> tuple[int, int]:
        """Bring the element's open future up to date: (1, 0) if it runs, (0, 1) if it ended
        (its future is now done), else (0, 0)."""
        with self._lock:
            future = self._open.get(element.array_index or 0)
            if future is None or future.job_id != element.id:
                return 0, 0
            start = element.state is State.RUNNING and future.index not in self._started
            if start:
                self._started.add(future.index)
        if start:
            future.set_running_or_notify_cancel()
        if element.state is State.RUNNING:
            return 1, 0
        if element.state not in TERMINAL:
            return 0, 0
        self._complete(future, self._outcome(element),
                       cancelled=element.state is State.CANCELLED)
        return 0, 1

    def _outcome(self, element: JobRecord) -> tuple[bool, Any]:
        """(True, value) or (False, exception) of an ended element."""
        if element.user != self.queue.user:
            return False, payloads.foreign_result(element.id, element.user)
        stored = self.queue.store.result(element.id)
        try:
            value = payloads.load(stored[1]) if stored else None
        except Exception as exc:  # noqa: BLE001 - a result this process cannot unpickle
            return False, exc
        if element.state is State.COMPLETED:
            return True, value
        if stored and not stored[0] and isinstance(value, BaseException):
            return False, value
        reason = element.error or f"exit code {element.exit_code}"
        return False, JobFailed(f"{element.id} {element.state.value}: {reason}", element.id,
                                element.state.value)

    def _claim(self, future: JobFuture) -> bool | None:
        """Take the future out of the open ones, to complete it: whether it was set running
        (None: someone else took it)."""
        with self._lock:
            if self._open.get(future.index) is not future:
                return None
            del self._open[future.index]
            self._ended_outside += 1
            started = future.index in self._started
            self._started.discard(future.index)
            return started

    def _complete(self, future: JobFuture, outcome: tuple[bool, Any], *,
                  cancelled: bool = False) -> None:
        """Complete an open future (unless someone else took it first). ``cancelled``: its
        job was cancelled; a future not seen running is then cancelled too."""
        started = self._claim(future)
        if started is None:
            return
        if cancelled and not started:
            cf.Future.cancel(future)
            future.set_running_or_notify_cancel()
            return
        ok, value = outcome
        if not started:
            future.set_running_or_notify_cancel()
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def _fail_open(self, error: Exception) -> None:
        with self._lock:
            left = list(self._open.values())
        for future in left:
            self._complete(future, (False, error))


def _check_grown(array: JobArray, size: int) -> None:
    """The elements just added took the indexes after the ones this Executor knew of, unless
    someone else added elements to the array at the same time."""
    if array.snapshot.size != size:
        raise QueueError(f"{array.id} grew by more than this Executor added (another process"
                         " adds elements to it too): its futures cannot tell which elements"
                         " are theirs; use one Executor per array")
