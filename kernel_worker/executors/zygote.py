"""Jobs of the kinds that may be forked (``kernel_worker.kinds``: function and python jobs)
started from a pre-imported zygote (see runners/zygote.py).

The worker reads a job's payload and sends it with the order; the child reports the result on
a pipe of its own (``zygote_report``), which the worker records with the end of the attempt.
In a system queue (children run as their owners) each child still reads and stores its own,
through the queue as its owner, as the cold runners do."""
from __future__ import annotations

import contextlib
import logging
import os
import select
import sys
from dataclasses import dataclass
from typing import Any

from jobmagics.model import JobRecord
from jobmagics.store import Store

from ..identity import Identity
from ..kinds import execution_of
from ..proctrack import Container, tracker_for
from . import forking
from .base import JobContext, Outcome
from .process_group import ProcessGroupExecution
from .zygote_report import Report, make_order, read_report

log = logging.getLogger("kernel_worker")
NO_RESULT = "the job's process ended without reporting a result (killed?)"


@dataclass(frozen=True)
class Reported(Outcome):
    """An outcome that carries the result the job's process reported, for the worker to
    store with the end of the attempt (``Store.finish(result=...)``)."""

    report: Report | None = None


class ForkedExecution(ProcessGroupExecution):
    """A job forked by the zygote. Not our child: we wait on its pidfd, and the outcome is the
    result the job reported (a job that died without one was killed)."""

    def __init__(self, job_id: str, pid: int, pidfd: int, store: Store, container: Container,
                 report: int | None) -> None:
        super().__init__(job_id, pid, container, pidfd)
        self._store = store
        self._report = report

    def poll(self) -> Outcome | None:
        pidfd = self.fileno()
        if pidfd is not None and not select.select([pidfd], [], [], 0)[0]:
            return None
        if self._report is not None:
            report, stored = read_report(self._report)
            if report is not None:
                failed = None if report.ok else "exit code 1"
                return Reported(0 if report.ok else 1, failed, report=report)
            if not stored:
                return Outcome(None, NO_RESULT)
        stored_result = self._store.result(self.job_id)
        if stored_result is None:
            return Outcome(None, NO_RESULT)
        return Outcome(0) if stored_result[0] else Outcome(1, "exit code 1")

    def close(self) -> None:
        if self._report is not None:
            with contextlib.suppress(OSError):
                os.close(self._report)
            self._report = None
        super().close()


class Zygote:
    """The worker's one zygote process, restarted if it dies. It lives in the worker's home
    container; each child joins its attempt's container itself before it runs any of the job."""

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self.store = Store(context.layout)
        self.home = tracker_for(context.layout.root).home(context.worker_id)
        self._environment = dict(os.environ)    # the zygote's: an order says how a job's differs
        as_owners = ["--as-owners"] if context.owners.as_owners else []
        self._server = forking.ForkServer("kernel_worker.runners.zygote",
                                          [str(context.layout.root), *as_owners],
                                          self._environment)
        # in the home container before it forks anything
        self._server.on_start = lambda pid: self.home.add(pid, own_group=False)
        self._server.ensure()
        self._python = os.path.realpath(sys.executable)
        self._same_python: dict[str, bool] = {}

    def accepts(self, job: JobRecord) -> bool:
        return (execution_of(job.kind).forkable and self._same(job.options.python)
                and job.options.stdin_b64 is None)

    def _same(self, python: str | None) -> bool:
        """Is ``python`` (None: the worker's) the interpreter the zygote runs? Asked once each."""
        if python is None:
            return True
        if python not in self._same_python:
            self._same_python[python] = os.path.realpath(python) == self._python
        return self._same_python[python]

    def start(self, job: JobRecord, env: dict[str, str], container: Container,
              identity: Identity | None = None) -> ForkedExecution | None:
        """Fork the job (as ``identity``, its owner, when given); None if the zygote cannot
        (the caller then starts a fresh Python)."""
        reporting = not self.context.owners.as_owners
        read_end, write_end = os.pipe() if reporting else (None, None)
        try:
            order = self._order(job, env, container, identity, reporting)
            pid, pidfd = self._server.fork(order, [] if write_end is None else [write_end])
            container.started(pid)
            return ForkedExecution(job.id, pid, pidfd, self.store, container, read_end)
        except (OSError, ValueError, TimeoutError) as exc:
            log.warning("zygote failed (%s); starting %s in a fresh interpreter", exc, job.id)
            if read_end is not None:
                os.close(read_end)
            return None
        finally:
            if write_end is not None:
                os.close(write_end)

    def _order(self, job: JobRecord, env: dict[str, str], container: Container,
               identity: Identity | None, reporting: bool) -> bytes:
        layout = self.context.layout
        stderr = str(layout.stderr(job.id)) if job.options.capture else None
        base = self._environment
        header: dict[str, Any] = {
            "job_id": job.id, "kind": job.kind, "cwd": job.cwd,
            "env": {key: value for key, value in env.items() if base.get(key) != value},
            "unset": [key for key in base if key not in env],
            "join": container.join_path(), "log": str(layout.log(job.id)), "stderr": stderr,
            "identity": None if identity is None else identity.to_json()}
        payload = self.store.payload(job.id) if reporting else None
        return make_order(header, payload, known=reporting)

    def close(self) -> None:
        self._server.close()
