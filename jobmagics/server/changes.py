"""Push without polling: the long poll ``GET /jobmagics/api/changes`` answers within a few
milliseconds of a commit to the queue.

One :class:`ChangeFeed` per server watches the queue folder (one ``FolderWatch``, an inotify
descriptor registered on the event loop with ``loop.add_reader``), however many long polls
wait (a browser tab each). When the folder fires, the feed asks ``change_version`` (on its own
thread) whether what the sidebar shows really changed (not a worker's heartbeat: that commit
moves ``data_version`` once a second per worker, and would make every tab re-read for nothing),
and if so wakes every waiting long poll at once: it sets the current ``asyncio.Event`` and puts
a fresh one in its place. Each long poll then answers with the version the feed confirmed (the
pages' ``version`` is the same number). A worker's death commits nothing, so a long poll still
looks at the workers once a second.
Without inotify the feed never fires and long polls look every ``FALLBACK_POLL_S``, as before.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..watch import FALLBACK_POLL_S, FolderWatch
from .bodies import BadRequest
from .handlers import JobmagicsHandler
from .views import version_fields

if TYPE_CHECKING:
    import jobmagics

Versions = dict[str, int]     # Queue.change_versions(): "n" and each topic's count

CHANGES_MAX_S = 30.0
CHANGES_DEFAULT_S = 25.0
LIVENESS_POLL_S = 1.0        # how often a long poll looks whether a worker died


class ChangeFeed:
    """Wakes every waiting long poll when the queue's database changes (see the module)."""

    def __init__(self, folder: str, read_versions: Callable[[], Versions]) -> None:
        self.folder = folder
        self._read_versions = read_versions
        # its own thread (not the server's queue calls): a look never waits behind requests,
        # and nothing of it outlives the feed
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="jobmagics-changes")
        self._event = asyncio.Event()
        self.versions: Versions | None = None   # the last it confirmed (None: unreadable)
        self._checking = False
        self._again = False
        self._loop = asyncio.get_running_loop()
        self._watch = FolderWatch([folder])
        self.wakes = 0                       # how many changes it announced (for tests, logs)
        self.closed = False
        fd = self._watch.fileno()
        if fd is not None:
            self._loop.add_reader(fd, self._on_folder_change)

    @property
    def watching(self) -> bool:
        return self._watch.watching

    def next_change(self) -> asyncio.Event:
        """The event set at the next confirmed change (take it *before* reading the version:
        a change in between then still wakes the waiter)."""
        return self._event

    def _on_folder_change(self) -> None:
        self._watch.drain()
        if self._checking:             # a look is under way: look once more after it
            self._again = True
            return
        self._checking = True
        self._loop.create_task(self._confirm())

    async def _confirm(self) -> None:
        try:
            again = True
            while again:
                self._again = False
                try:
                    versions: Versions | None = await self._loop.run_in_executor(
                        self._reader, self._read_versions)
                except Exception:  # noqa: BLE001 - unreadable now: let the long polls look
                    versions = None
                if versions is None or versions != self.versions:
                    self.versions = versions
                    self._announce()
                again = self._again
        finally:
            self._checking = False

    def _announce(self) -> None:
        event, self._event = self._event, asyncio.Event()
        self.wakes += 1
        event.set()

    def close(self) -> None:
        fd = self._watch.fileno()
        if fd is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(fd)
        self._watch.close()
        self._reader.shutdown(wait=False, cancel_futures=True)
        self.closed = True
        self._announce()                     # let the waiting long polls answer now


class ChangesHandler(JobmagicsHandler):
    """Long poll: answers as soon as the queue's change version differs from ``version``, or a
    worker stops being alive; ``include=queue`` (with ``GET queue``'s own arguments) puts that
    page, read after the change, in a changed answer. A worker's death commits nothing (no
    version moves), yet its running jobs now read "worker lost": the sidebar must look again."""

    _closed = False

    def on_connection_close(self) -> None:
        self._closed = True

    @web.authenticated
    @authorized
    async def get(self) -> None:
        include = self.get_argument("include", "")
        if include not in ("", "queue"):
            raise BadRequest(f"include may be 'queue', not {include[:100]!r}")
        page = self.queue_page() if include else None     # its arguments checked now
        version = self.int_arg("version", -1, minimum=None)
        timeout = self.float_arg("timeout")
        timeout = CHANGES_DEFAULT_S if timeout is None else min(max(timeout, 0.0), CHANGES_MAX_S)
        current, workers_changed = await self._wait(version, time.monotonic() + timeout)
        if self._closed:
            return
        answer = changes_answer(current, version, workers_changed)
        if page is None or not answer["changed"]:
            self.finish(json.dumps(answer))
            return
        # The page the sidebar would ask for next comes with the news: one round trip, not two
        text = await self.queue_call(lambda q: json.dumps(answer | {"queue": page(q)}, default=str))
        if not self._closed:
            self.finish(text)


    async def _wait(self, version: int, deadline: float) -> tuple[Versions, bool]:
        """Until the versions differ from ``version``, the live workers change, the client
        leaves or ``deadline``: the versions then, and whether the workers changed."""
        feed = await self.app.change_feed()
        woken = feed.next_change()
        current, alive = await self.queue_call(lambda q: (q.change_versions(), alive_workers(q)))
        next_look = time.monotonic() + LIVENESS_POLL_S
        workers_changed = False
        while current["n"] == version and not workers_changed and not self._closed \
                and not feed.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            pause = min(left, max(0.0, next_look - time.monotonic()))
            if not feed.watching:
                pause = min(pause, FALLBACK_POLL_S)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(woken.wait(), pause)
            confirmed = feed.versions if woken.is_set() else None   # no read of our own then
            woken = feed.next_change()               # before reading: no change falls between
            current = confirmed if confirmed is not None else await self.queue_call(
                lambda q: q.change_versions())
            if time.monotonic() >= next_look:
                next_look = time.monotonic() + LIVENESS_POLL_S
                workers_changed = await self.queue_call(alive_workers) != alive
        return current, workers_changed


def changes_answer(versions: Versions, asked: int, workers_changed: bool) -> dict[str, Any]:
    """The long poll's answer: the version now and each topic's count (as a page carries
    them), whether it moved from the one asked about, and whether the live workers changed."""
    return {**version_fields(versions), "changed": versions["n"] != asked or workers_changed,
            "workers_changed": workers_changed}


def alive_workers(q: jobmagics.Queue) -> frozenset[str]:
    return frozenset(w["id"] for w in q.workers(alive_only=True))
