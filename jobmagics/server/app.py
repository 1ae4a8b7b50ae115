"""``JobmagicsApp``: the configurable server extension application."""
from __future__ import annotations

import os
import threading
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Int, Unicode, default, observe

import jobmagics

from . import changes, dashboard, editing, job_view, schedules
from . import handlers as h
from .arrays import ArrayHandler, ArraysHandler
from .bodies import ACTIONS
from .calls import QueueCalls


class JobmagicsApp(ExtensionApp):
    """Serves the jobmagics queue to JupyterLab under ``/jobmagics/api/``.

    The acting user of every request is the Unix account the Jupyter server runs as:
    the same rules as the Python API apply (only a job's owner or a queue admin may
    cancel, retry, hold or release it). Queue calls never run on the server's event loop
    (see :mod:`jobmagics.server.calls`).
    """

    name = "jobmagics"
    load_other_extensions = True

    queue = Unicode(
        help="The queue directory served to JupyterLab. Default: $JOBMAGICS_QUEUE, "
        "else the default queue ~/.jobmagics/queue.",
    ).tag(config=True)

    busy_timeout = Float(
        2.0, help="Seconds a change waits for another process's write lock on the queue before "
        "the request answers 503 'the queue is busy, try again' (the CLI and workers wait 60 s).",
    ).tag(config=True)

    queue_threads = Int(
        8, help="At most this many queue calls run at once, each in a worker thread.",
    ).tag(config=True)

    queue_wait = Float(
        2.0, help="Seconds a request waits for one of the queue_threads before answering 503.",
    ).tag(config=True)

    @default("queue")
    def _default_queue(self) -> str:
        return os.environ.get("JOBMAGICS_QUEUE", "")

    def initialize_settings(self) -> None:
        self._queue: jobmagics.Queue | None = None
        self._queue_lock = threading.Lock()
        self._calls: QueueCalls | None = None
        self._feed: changes.ChangeFeed | None = None
        self.log.info("jobmagics: serving queue %s", self.queue or "(default)")

    def initialize_handlers(self) -> None:
        self.handlers.extend(route_table())

    @observe("queue", "busy_timeout")
    def _forget_queue(self, change: dict[str, Any]) -> None:
        self._queue = None           # opened again, with the new setting, on next use

    @observe("queue_threads", "queue_wait")
    def _forget_calls(self, change: dict[str, Any]) -> None:
        self._calls = None

    @property
    def calls(self) -> QueueCalls:
        """Where handlers run their queue calls (off the event loop, bounded)."""
        if getattr(self, "_calls", None) is None:
            self._calls = QueueCalls(self.queue_threads, self.queue_wait)
        return self._calls  # type: ignore[return-value]

    async def change_feed(self) -> changes.ChangeFeed:
        """The one watch of the queue folder that wakes every long poll (made on first use,
        on the server's event loop; closed when the server stops)."""
        queue = self._queue
        if queue is None:                          # opened once, off the loop
            queue = await self.calls.run(self.get_queue)
        folder = str(queue.layout.db.parent)
        feed = self._feed
        if feed is not None and feed.folder != folder:      # the queue setting changed
            feed.close()
            feed = None
        if feed is None:
            feed = self._feed = changes.ChangeFeed(folder, queue.change_versions)
        return feed

    async def stop_extension(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.close()

    def get_queue(self) -> jobmagics.Queue:
        """The queue, opened on first use (and again after a failure, e.g. a missing mount).
        Blocks (opening checks the schema under the write lock): call it in a queue call.

        Raises ``QueueError`` when it cannot be opened; handlers turn that into 503."""
        with self._queue_lock:
            if self._queue is None:
                self._queue = jobmagics.Queue(self.queue or None, busy_timeout=self.busy_timeout)
            return self._queue


def route_table() -> list[tuple[str, type[h.JobmagicsHandler]]]:
    """Every route under ``/jobmagics/api/`` (the last one answers a JSON 404)."""
    api, job = h.API, r"(?P<job_id>[^/]+)"
    return [
        (rf"/{api}/jobs", h.JobsHandler),
        (rf"/{api}/jobs/actions", h.BulkActionHandler),
        (rf"/{api}/jobs/{job}", h.JobHandler),
        (rf"/{api}/jobs/{job}/log", h.LogHandler),
        (rf"/{api}/jobs/{job}/(?P<action>{'|'.join(ACTIONS)})", h.ActionHandler),
        (rf"/{api}/queue", h.QueueHandler),
        (rf"/{api}/arrays", ArraysHandler),
        (rf"/{api}/arrays/(?P<array_id>[^/]+)", ArrayHandler),
        (rf"/{api}/stats", h.StatsHandler),
        (rf"/{api}/whoami", h.WhoAmIHandler),
        *((rf"/{api}/{path}", handler) for path, handler in (*editing.ROUTES, *schedules.ROUTES,
                                                             *job_view.ROUTES, *dashboard.ROUTES)),
        (rf"/{api}/changes", changes.ChangesHandler),
        (rf"/{api}/(?P<rest>.*)", h.NoRouteHandler),
    ]
