"""``JobmagicsApp``: the configurable server extension application."""
from __future__ import annotations

import os
import threading

from jupyter_server.extension.application import ExtensionApp
from traitlets import Unicode, default

import jobmagics

from .handlers import route_table


class JobmagicsApp(ExtensionApp):
    """Serves the jobmagics queue to JupyterLab under ``/jobmagics/api/``.

    The acting user of every request is the Unix account the Jupyter server runs as:
    the same rules as the Python API apply (only a job's owner or a queue admin may
    cancel, retry, hold or release it).
    """

    name = "jobmagics"
    load_other_extensions = True

    queue = Unicode(
        help="The queue directory served to JupyterLab. Default: $JOBMAGICS_QUEUE, "
        "else the default queue ~/.jobmagics/queue.",
    ).tag(config=True)

    @default("queue")
    def _default_queue(self) -> str:
        return os.environ.get("JOBMAGICS_QUEUE", "")

    def initialize_settings(self) -> None:
        self._queue: jobmagics.Queue | None = None
        self._queue_lock = threading.Lock()
        self.log.info("jobmagics: serving queue %s", self.queue or "(default)")

    def initialize_handlers(self) -> None:
        self.handlers.extend(route_table())

    def get_queue(self) -> jobmagics.Queue:
        """The queue, opened on first use (and again after a failure, e.g. a missing mount).

        Raises ``QueueError`` when it cannot be opened; handlers turn that into 503."""
        with self._queue_lock:
            if self._queue is None:
                self._queue = jobmagics.Queue(self.queue or None)
            return self._queue
