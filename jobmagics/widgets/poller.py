"""ONE background poller per kernel, shared by every job widget and queue panel.

It reads ``PRAGMA data_version`` of each watched queue about every 100 ms (a cheap read in
autocommit mode: no transaction is held open, so the WAL can always be checkpointed) and
tells each subscriber whether its queue changed. Subscribers are held by weak reference;
the thread exits when none is left and starts again with the next one. It never prints:
a subscriber's exception is kept in ``errors`` for debugging."""
from __future__ import annotations

import collections
import threading
import time
import weakref
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..client import Queue

INTERVAL_S = 0.1


class Subscriber(Protocol):
    queue: Queue

    def poll(self, changed: bool) -> bool:
        """Update from the queue; ``changed`` says its data changed. Return False to unsubscribe."""


class Poller:
    def __init__(self, interval: float = INTERVAL_S) -> None:
        self.interval = interval
        self.errors: collections.deque[str] = collections.deque(maxlen=50)
        self.ticks = 0
        self._subscribers: weakref.WeakSet[Subscriber] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._versions: dict[str, int] = {}

    def subscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.add(subscriber)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="jobmagics-poller",
                                                daemon=True)
                self._thread.start()

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def subscribers(self) -> list[Subscriber]:
        with self._lock:
            return list(self._subscribers)

    def _run(self) -> None:
        while True:
            with self._lock:
                subscribers = list(self._subscribers)
                if not subscribers:
                    self._thread = None
                    return
            changed = self._changed_queues(subscribers)
            for subscriber in subscribers:
                self._poll_one(subscriber, changed.get(str(subscriber.queue.path), False))
            del subscribers                 # keep no strong reference while sleeping
            self.ticks += 1
            time.sleep(self.interval)

    def _changed_queues(self, subscribers: list[Subscriber]) -> dict[str, bool]:
        queues = {str(s.queue.path): s.queue for s in subscribers}
        changed = {}
        for key, queue in queues.items():
            try:
                version = queue.data_version()
            except Exception as exc:  # noqa: BLE001 - a broken queue must not stop the others
                self.errors.append(f"{key}: {type(exc).__name__}: {exc}")
                continue
            changed[key] = self._versions.get(key) != version
            self._versions[key] = version
        return changed

    def _poll_one(self, subscriber: Subscriber, changed: bool) -> None:
        try:
            keep = subscriber.poll(changed)
        except Exception as exc:  # noqa: BLE001 - never print from this thread
            self.errors.append(f"{type(subscriber).__name__}: {type(exc).__name__}: {exc}")
            keep = True
        if keep is False:
            self.unsubscribe(subscriber)


_poller: Poller | None = None
_poller_lock = threading.Lock()


def shared_poller() -> Poller:
    """The kernel's one poller."""
    global _poller
    with _poller_lock:
        if _poller is None:
            _poller = Poller()
        return _poller
