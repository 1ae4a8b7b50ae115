"""``jobmagics.Executor``: a ``concurrent.futures.Executor`` whose calls are jobs of a queue.

All the calls of one Executor are the elements of one array: the first ``submit`` creates it,
later ones add to it (``submit_array(extend=)``). So ``parallel`` caps how many run at once
across every worker, each call is an ordinary job (log, retries, result kept in the queue),
and ``Executor.attach(array_id)`` finds the futures again after the notebook restarted.

While a future is open, one thread per Executor follows the queue: when its ``data_version``
changed, it reads the open elements where changes happen (those running, and the first ones
not started: elements start in index order), each by its id; now and then (when that costs
little of its time) every element of the array, for what happens out of order (a retry, a
cancel by someone else). It alone sets futures running and completes them. ``cancel()`` holds
a job (refused once it runs), then cancels it.
"""
from __future__ import annotations

import concurrent.futures as cf
import functools
import itertools
import operator
import os
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

_FIRST_POLL_S = 0.002     # after a submit or a cancel
_MAX_POLL_S = 0.05
_REST = 3                 # after a look that took t seconds, no next one for REST * t,
_MIN_GAP_S = 0.01         # nor for this long
_FULL_LOOK_S = 5.0        # at most this often, every element is read (and REST * 10 * its cost)
_FRONT = 4                # the first open elements not started that a look reads (doubled
_MAX_FRONT = 1024         # while they all moved, halved back when not)
_HOLES = 64               # removed entries _open may keep before it is rebuilt
_GIVE_UP_AFTER = 5        # looks failing in a row before the open futures fail with the error


# What an element runs: its item, ``functools.partial(fn, *args, **kwargs)``, called. A function
# of the standard library, so that a job's process (forked from the worker's zygote, where
# jobmagics' own modules are imported already) imports nothing to run it.
_CALL = operator.methodcaller("__call__")


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
    ``resources``, ``timeout``, ``retries``, ...; ``cwd``: by default the folder the
    Executor was made in)."""

    def __init__(self, queue: Queue | None = None, parallel: int | None = None,
                 **job_options: Any) -> None:
        known = by_keyword(JobSettings)
        unknown = sorted(set(job_options) - set(known))
        if unknown:
            raise InvalidJob(f"unknown job option {unknown[0]!r}; options are"
                             f" {', '.join(known)}")
        self.queue = queue if queue is not None else shared_queue()
        self.parallel = check_parallel(parallel)
        # the calls run where the Executor was made (as a process pool's processes do)
        self.job_options = {"cwd": os.getcwd(), **job_options}
        self.array_id: str | None = None
        self._size = 0                            # the next element added takes this index
        self._futures: dict[int, JobFuture] = {}  # every future, by index
        self._open: dict[int, JobFuture] = {}     # not completed yet, in index order
        self._started: set[int] = set()           # open ones set running
        self._closed = 0                          # removed from _open since it was rebuilt
        self._front = _FRONT
        self._next_full = 0.0                     # when every element may be read again
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
        _check_callable(fn)
        return self._add(_CALL, [functools.partial(fn, *args, **kwargs)], fn)[0]

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int | None = 1) -> Iterator[Any]:
        """``fn`` over the iterables, every call submitted before this returns; the results
        come in order, a call's exception is raised when it is reached, and ``timeout``
        (seconds from this call) raises ``TimeoutError``. ``chunksize`` calls per job (None:
        chosen from ``parallel`` or the live workers' slots, as ``Queue.map`` does)."""
        end = None if timeout is None else time.monotonic() + timeout
        _check_callable(fn)
        calls = list(zip(*iterables, strict=False))
        if chunksize == 1:
            each = [functools.partial(fn, *args) for args in calls]
            return self._in_order(self._add(_CALL, each, fn) if each else [], end)
        size = self._chunk_size(len(calls), chunksize)
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
            try:
                if self.array_id is None:
                    self.array_id = self.queue.submit_array(
                        function=function, items=items, parallel=self.parallel, **options).id
                    self._next_full = time.monotonic() + _FULL_LOOK_S
                else:
                    self.queue.submit_array(function=function, items=items,
                                            extend=self.array_id, **options)
                    self._check_grown(first, len(items))
            except InvalidJob as exc:
                raise _naming(exc, named) from None
            self._size = first + len(items)
            added = [JobFuture(self, self.array_id, first + i) for i in range(len(items))]
            with self._lock:
                for future in added:
                    self._futures[future.index] = self._open[future.index] = future
                self._follow_in_background()
        return added

    def _check_grown(self, first: int, count: int) -> None:
        """The elements just added took the indexes after the ones this Executor knew of,
        unless another process added elements to the array meanwhile (then the element after
        them exists: theirs, or ours pushed along by theirs)."""
        assert self.array_id is not None
        try:
            self.queue.store.get(element_id(self.array_id, first + count))
        except JobNotFound:
            return
        raise QueueError(f"{self.array_id} grew by more than this Executor added (another"
                         " process adds elements to it too): its futures cannot tell which"
                         " elements are theirs; use one Executor per array")

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
        if len(ids) <= _FRONT:
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
        executor._look_at_all()
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
        """Look whenever the queue changed, until no future is open; rest after a look in
        proportion to its cost. Never prints: what goes wrong reaches the futures (after a
        few failed looks in a row)."""
        seen, pause, failures = None, _FIRST_POLL_S, 0
        while True:
            with self._lock:
                if not self._open:
                    self._thread = None
                    return
            try:
                version = self.queue.data_version()
                if version != seen:
                    began = time.monotonic()
                    if began >= self._next_full:
                        self._look_at_all()
                    else:
                        self._look_at_front()
                    seen, pause = version, max(_MIN_GAP_S, _REST * (time.monotonic() - began))
                failures = 0
            except Exception as exc:  # noqa: BLE001 - handed to the futures, never printed
                failures += 1
                if failures >= _GIVE_UP_AFTER:
                    self._fail_open(exc)
            if self._wake.wait(pause):
                self._wake.clear()
                pause = _FIRST_POLL_S
            else:
                pause = min(pause * 1.5, max(pause, _MAX_POLL_S))

    def _look_at_front(self) -> None:
        """Read, by id, the open elements that run and the first ones not started; then the
        next ones while all of those started or ended (many short jobs between two looks)."""
        with self._lock:
            running = [self._open[i] for i in self._started]
        for future in running:
            self._apply(self._read(future))
        while True:
            with self._lock:
                front = list(itertools.islice(
                    (f for i, f in self._open.items() if i not in self._started), self._front))
            moved = sum(self._apply(self._read(future)) for future in front)
            if not front or moved < len(front):
                self._front = max(_FRONT, self._front // 2)
                return
            self._front = min(_MAX_FRONT, self._front * 2)

    def _read(self, future: JobFuture) -> JobRecord | JobFuture:
        """The future's element as stored now (the future itself if it was deleted)."""
        try:
            return self.queue.store.get(future.job_id)
        except JobNotFound:
            return future

    def _look_at_all(self) -> None:
        """Read every element of the array (one read); the next such look waits a while, the
        longer the more this one cost."""
        assert self.array_id is not None
        began = time.monotonic()
        with self._lock:
            known = list(self._open.values())
        present = set()
        for element in self.queue.store.elements(self.array_id):
            present.add(element.id)
            with self._lock:          # (an attached array: a future for each element)
                index = element.array_index
                if index is not None and index not in self._futures:
                    self._futures[index] = self._open[index] = JobFuture(self, self.array_id,
                                                                         index)
            self._apply(element)
        for future in known:
            if future.job_id not in present:
                self._apply(future)
        cost = time.monotonic() - began
        self._next_full = time.monotonic() + max(_FULL_LOOK_S, _REST * 10 * cost)

    def _apply(self, element: JobRecord | JobFuture) -> bool:
        """Bring the element's open future up to date (a future: its element was deleted);
        whether the future was set running or completed now."""
        if isinstance(element, JobFuture):
            self._complete(element, (False, JobNotFound(element.job_id)))
            return True
        with self._lock:
            future = self._open.get(element.array_index if element.array_index is not None
                                    else -1)
            if future is None or future.job_id != element.id:
                return False
            start = element.state is State.RUNNING and future.index not in self._started
            if start:
                self._started.add(future.index)
        if start:
            future.set_running_or_notify_cancel()
        if element.state not in TERMINAL:
            return start
        self._complete(future, self._outcome(element),
                       cancelled=element.state is State.CANCELLED)
        return True

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
            self._closed += 1
            if self._closed > _HOLES:
                # a dict walks over the holes its removed entries left: rebuilt, it has none
                self._open, self._closed = dict(self._open), 0
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


def _check_callable(fn: object) -> None:
    if not callable(fn):
        raise InvalidJob(f"an Executor runs callables, not {type(fn).__name__}")


def _naming(error: InvalidJob, fn: Callable[..., Any]) -> InvalidJob:
    """A refusal to pickle a call, naming the user's function rather than what wraps it."""
    said = str(error)
    wrapped, _, why = said.partition("(...) to the queue: ")
    if not (wrapped.startswith("cannot send ") and why):
        return error
    return InvalidJob(f"cannot send {getattr(fn, '__qualname__', repr(fn))}(...) to the queue:"
                      f" {why}")
