"""Jobs of the kinds that may be forked (``kernel_worker.kinds``: function and python jobs)
started from a pre-imported zygote (see runners/zygote.py)."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
from typing import Any

from jobmagics.model import JobRecord
from jobmagics.store import Store

from ..identity import Identity
from ..kinds import execution_of
from ..proctrack import Container, tracker_for
from .base import JobContext, Outcome
from .process_group import ProcessGroupExecution

log = logging.getLogger("kernel_worker")
REPLY_TIMEOUT_S = 30.0      # the first fork waits for the zygote's imports


class ForkedExecution(ProcessGroupExecution):
    """A job forked by the zygote. Not our child: we wait on its pidfd, and the outcome is the
    result the job stored (a job that died without one was killed)."""

    def __init__(self, job_id: str, pid: int, store: Store, container: Container) -> None:
        super().__init__(job_id, pid, container)
        self._store = store

    def poll(self) -> Outcome | None:
        pidfd = self.fileno()
        if pidfd is not None and not select.select([pidfd], [], [], 0)[0]:
            return None
        stored = self._store.result(self.job_id)
        if stored is None:
            return Outcome(None, "the job's process ended without reporting a result (killed?)")
        return Outcome(0) if stored[0] else Outcome(1, "exit code 1")


class Zygote:
    """The worker's one zygote process, restarted if it dies. It lives in the worker's home
    container; each child joins its attempt's container itself before it runs any of the job."""

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self.store = Store(context.layout)
        self.home = tracker_for(context.layout.root).home(context.worker_id)
        self._process: subprocess.Popen[bytes] | None = None
        self._ensure()

    def _ensure(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            as_owners = ["--as-owners"] if self.context.owners.as_owners else []
            self._process = subprocess.Popen(
                [sys.executable, "-m", "kernel_worker.runners.zygote",
                 str(self.context.layout.root), *as_owners],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                start_new_session=True)
            self.home.add(self._process.pid, own_group=False)   # before it forks anything
        return self._process

    def accepts(self, job: JobRecord) -> bool:
        python = job.options.python
        same_python = python is None or os.path.realpath(python) == os.path.realpath(sys.executable)
        return execution_of(job.kind).forkable and same_python and job.options.stdin_b64 is None

    def start(self, job: JobRecord, env: dict[str, str], container: Container,
              identity: Identity | None = None) -> ForkedExecution | None:
        """Fork the job (as ``identity``, its owner, when given); None if the zygote cannot
        (the caller then starts a fresh Python)."""
        layout = self.context.layout
        stderr = str(layout.stderr(job.id)) if job.options.capture else None
        order: dict[str, Any] = {"job_id": job.id, "kind": job.kind, "cwd": job.cwd, "env": env,
                                 "join": container.join_path(), "log": str(layout.log(job.id)),
                                 "stderr": stderr,
                                 "identity": None if identity is None else identity.to_json()}
        try:
            process = self._ensure()
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps(order).encode() + b"\n")
            process.stdin.flush()
            if not select.select([process.stdout], [], [], REPLY_TIMEOUT_S)[0]:
                raise TimeoutError("the zygote did not answer")
            pid = int(process.stdout.readline())
            container.started(pid)
            return ForkedExecution(job.id, pid, self.store, container)
        except (OSError, ValueError, TimeoutError, AssertionError) as exc:
            log.warning("zygote failed (%s); starting %s in a fresh interpreter", exc, job.id)
            self.close()
            return None

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            if process.stdin is not None:
                process.stdin.close()
        try:
            process.wait(2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
