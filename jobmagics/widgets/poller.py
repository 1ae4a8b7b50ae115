"""ONE background poller per kernel, shared by every job widget, array widget and queue panel.

It sleeps until a watched queue changes, then tells each subscriber whether its queue's data
changed. Two inotify watches (``jobmagics.watch.FolderWatch``) wake it: one on each queue's
folder (the database and its WAL: a state change is shown within milliseconds) and one on its
``logs``, ``outputs`` and ``data`` folders (live output and data: looked at no more often than
every ``FILES_S``, so a job printing 1,000 lines a second costs about ten wakes a second, not
1,000). A wake is confirmed with ``PRAGMA data_version`` (a cheap read in autocommit mode: no
transaction is held open, so the WAL can always be checkpointed); a wake that finds no new
version looks again a few times shortly after (a commit's fsync can end after its write woke
us). Between changes it ticks once a second (elapsed times; a dead worker writes nothing, so
"worker lost" is looked for). Without inotify it polls every ``FALLBACK_POLL_S``.

Subscribers are held by weak reference; the thread exits when none is left and starts again
with the next one. It never prints: a subscriber's exception is kept in ``errors``."""
from __future__ import annotations

import collections
import contextlib
import os
import select
import threading
import time
import weakref
from typing import TYPE_CHECKING, Protocol

from ..watch import FALLBACK_POLL_S, FolderWatch

if TYPE_CHECKING:
    from ..client import Queue

TICK_S = 1.0             # between changes: elapsed times move on, lost workers are looked for
FILES_S = 0.1            # output and data files: looked at no more often than this
COALESCE_S = 0.003       # after a wake, let the rest of a burst of writes arrive
RECHECKS = (0.005, 0.015, 0.04, 0.1)   # a wake without a new data_version: look again after
FILE_FOLDERS = ("logs", "outputs", "data")


class Subscriber(Protocol):
    queue: Queue

    def poll(self, changed: bool) -> bool:
        """Update from the queue; ``changed`` says its data changed. Return False to unsubscribe."""


class _DatabaseWatch(FolderWatch):
    """The queue folders, where only the database's own files count: the integrity verdict
    beside it is rewritten at every checkpoint, and a wake for it would be a wasted look."""

    def __init__(self, queues: dict[str, Queue]) -> None:
        super().__init__([q.layout.root for q in queues.values()])
        self.names = {p.name for q in queues.values() for p in q.layout.database_files}

    def database_changed(self) -> bool:
        """Drain the events; did one name the database or its journal?"""
        if self._inotify is None:
            return True
        try:
            events = self._inotify.read(timeout=0)
        except OSError:
            return True
        return any(event.name in self.names for event in events)


class _Watches:
    """The two watches over every watched queue, made again when the set of queues changes."""

    def __init__(self, queues: dict[str, Queue]) -> None:
        self.keys = frozenset(queues)
        self.database = _DatabaseWatch(queues)
        self.files = FolderWatch([q.layout.root / name for q in queues.values()
                                  for name in FILE_FOLDERS])

    @property
    def polling(self) -> bool:
        return not (self.database.watching and self.files.watching)

    def close(self) -> None:
        self.database.close()
        self.files.close()


class Poller:
    def __init__(self, tick: float = TICK_S) -> None:
        self.tick = tick
        self.errors: collections.deque[str] = collections.deque(maxlen=50)
        self.ticks = 0           # passes over the subscribers (a change, files, or the tick)
        self._subscribers: weakref.WeakSet[Subscriber] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._versions: dict[str, int] = {}
        self._shown: dict[str, int | None] = {}      # each queue's change_version as last read
        self._committed = False
        self._watches: _Watches | None = None
        self._files_woke = False         # the last wake was for output or data files
        self._poke_r, self._poke_w = _pipe()

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.add(subscriber)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="jobmagics-poller",
                                                daemon=True)
                self._thread.start()
            else:
                self._poke()           # a new queue to watch: the thread makes its watches anew

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)
            if not self._subscribers:
                self._poke()           # nothing left: let the thread end now, not at its tick

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def subscribers(self) -> list[Subscriber]:
        with self._lock:
            return list(self._subscribers)

    def _poke(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._poke_w, b"x")

    def _run(self) -> None:
        rechecks: list[float] = []
        files_due = 0.0
        polled = 0.0               # when the subscribers were last polled
        while True:
            with self._lock:
                subscribers = list(self._subscribers)
                if not subscribers:
                    self._thread = None
                    self._close_watches()
                    return
            watches = self._watch(subscribers)
            changed = self._changed_queues(subscribers)
            # a recheck that found nothing new is not worth a pass over the subscribers
            if any(changed.values()) or self._files_woke or time.monotonic() - polled >= self.tick:
                polled = time.monotonic()
                for subscriber in subscribers:
                    self._poll_one(subscriber, changed.get(str(subscriber.queue.path), False))
                self.ticks += 1
            del subscribers                 # keep no strong reference while sleeping
            if self._committed:
                rechecks = []
            files_due = self._wait(watches, rechecks, files_due)

    def _watch(self, subscribers: list[Subscriber]) -> _Watches:
        queues = {str(s.queue.path): s.queue for s in subscribers}
        if self._watches is None or self._watches.keys != frozenset(queues):
            self._close_watches()
            self._watches = _Watches(queues)
        return self._watches

    def _close_watches(self) -> None:
        if self._watches is not None:
            self._watches.close()
            self._watches = None

    def _wait(self, watches: _Watches, rechecks: list[float], files_due: float) -> float:
        """Sleep until the database changes, files change (at most every FILES_S), a recheck
        is due, or the tick; returns when the files may be looked at next."""
        timeout = min([self.tick, *rechecks[:1]])
        if watches.polling:
            timeout = min(timeout, FALLBACK_POLL_S)
        deadline = time.monotonic() + timeout
        self._files_woke = False
        database_fd, files_fd = watches.database.fileno(), watches.files.fileno()
        while True:
            now = time.monotonic()
            readers = [fd for fd in (self._poke_r, database_fd) if fd is not None]
            if files_fd is not None and now >= files_due:
                readers.append(files_fd)
            wait = deadline - now
            if files_fd is not None and now < files_due:
                wait = min(wait, files_due - now)
            try:
                ready, _, _ = select.select(readers, [], [], max(0.0, wait))
            except (OSError, ValueError):
                return files_due
            if not ready:
                if time.monotonic() < deadline and files_fd is not None:
                    continue                    # the files may be looked at again: wait on
                if rechecks:
                    rechecks.pop(0)
                return files_due
            if ready == [database_fd] and not watches.database.database_changed():
                continue                        # the verdict file, a lock: not a change
            break
        time.sleep(COALESCE_S)            # the rest of the burst, then one look for all of it
        if self._poke_r in ready:
            _drain(self._poke_r)
        if database_fd in ready:
            watches.database.drain()
            rechecks[:] = list(RECHECKS)
        if files_fd in ready:
            watches.files.drain()
            self._files_woke = True
            return time.monotonic() + FILES_S
        return files_due

    def _changed_queues(self, subscribers: list[Subscriber]) -> dict[str, bool]:
        """Which queues changed in what views show. A commit that moved only ``data_version``
        (a worker's heartbeat, once a second each) is no change for them; ``self._committed``
        says whether anything committed at all (then a recheck is not needed)."""
        queues = {str(s.queue.path): s.queue for s in subscribers}
        changed = {}
        self._committed = False
        for key, queue in queues.items():
            try:
                version = queue.data_version()
                committed = self._versions.get(key) != version
                shown = queue.change_version() if committed else self._shown.get(key)
            except Exception as exc:  # noqa: BLE001 - a broken queue must not stop the others
                self.errors.append(f"{key}: {type(exc).__name__}: {exc}")
                continue
            changed[key] = committed and self._shown.get(key) != shown
            self._committed = self._committed or committed
            self._versions[key], self._shown[key] = version, shown
        return changed

    def _poll_one(self, subscriber: Subscriber, changed: bool) -> None:
        try:
            keep = subscriber.poll(changed)
        except Exception as exc:  # noqa: BLE001 - never print from this thread
            self.errors.append(f"{type(subscriber).__name__}: {type(exc).__name__}: {exc}")
            keep = True
        if keep is False:
            self.unsubscribe(subscriber)


def _pipe() -> tuple[int, int]:
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    return read, write


def _drain(fd: int) -> None:
    with contextlib.suppress(OSError):
        while os.read(fd, 4096):
            pass


_poller: Poller | None = None
_poller_lock = threading.Lock()


def shared_poller() -> Poller:
    """The kernel's one poller."""
    global _poller
    with _poller_lock:
        if _poller is None:
            _poller = Poller()
        return _poller
