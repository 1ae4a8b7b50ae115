"""Run ``--backend slurm`` jobs on a SLURM cluster: sbatch a script that runs the job exactly
as the subprocess executor would, track it with one shared squeue poller, scancel to stop it.

The queue folder must be visible at the same path on the compute nodes (a shared
filesystem): the job's log is written there, and python/function jobs read their code and
store their result in the queue's database."""
from __future__ import annotations

import base64
import logging
import os
import shlex
import sqlite3
import time
from pathlib import Path

from jobmagics.errors import JobmagicsError
from jobmagics.model import JobRecord
from jobmagics.store import Store

from ..identity import Identity
from .base import Ended, Execution, JobContext, Outcome
from .slurm_commands import SlurmError, cancel, cancel_orphan, sbatch_options, submit_batch
from .slurm_tracker import SlurmStatus, SlurmTracker
from .subprocess import job_argv, job_environment

log = logging.getLogger("kernel_worker.slurm")

__all__ = ["Outcome", "SlurmExecution", "SlurmExecutor", "cancel_orphan", "outcome_for"]

_WAITING_STATES = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "SUSPENDED",
                             "RESV_DEL_HOLD", "STOPPED"})
_TIMEOUT_STATES = frozenset({"TIMEOUT", "DEADLINE"})


def outcome_for(status: SlurmStatus, slurm_id: str) -> Outcome | None:
    """Map a SLURM state onto how the attempt ended; None while the job is not finished."""
    if not status.terminal:
        return None
    code, where = status.exit_code, f"SLURM job {slurm_id}"
    if status.state == "COMPLETED" and not code:
        return Outcome(0)
    if status.state == "FAILED" or status.state == "COMPLETED":
        how = ("no exit code" if code is None else
               f"killed by signal {-code}" if code < 0 else f"exit code {code}")
        return Outcome(code, f"{how} ({where} FAILED)")
    if status.state in _TIMEOUT_STATES:
        return Outcome(code, f"SLURM: {status.state} ({where} reached its time limit)", "timeout")
    if status.state == "CANCELLED":
        return Outcome(code, f"SLURM: CANCELLED ({where} was cancelled in SLURM)", "cancelled")
    detail = f": {status.reason}" if status.reason else ""
    return Outcome(code, f"SLURM: {status.state} ({where}{detail})")


def stage_text(status: SlurmStatus, slurm_id: str) -> str:
    """What the job's stage shows while SLURM holds it: ``slurm 42: PENDING (Resources)``."""
    if status.state in ("RUNNING", "COMPLETING") and status.node:
        return f"slurm {slurm_id}: {status.state} on {status.node}"
    reason = f" ({status.reason})" if status.reason else ""
    return f"slurm {slurm_id}: {status.state}{reason}"


class SlurmExecution:
    """One attempt as a SLURM batch job. Polled (no file descriptor); ``poll()`` only reads
    the tracker's last answer, so it is cheap however often the worker calls it."""

    pid: int | None = None
    pid_started: float | None = None

    def __init__(self, job_id: str, slurm_id: str, executor: SlurmExecutor) -> None:
        self.job_id = job_id
        self.backend_id: str | None = slurm_id
        self._executor = executor
        self._reported: str | None = None
        # when SLURM first showed it running (monotonic): a worker can start the job's timeout
        # there instead of at submission, so time spent PENDING in a busy cluster is not counted
        self.running_since: float | None = None

    def fileno(self) -> int | None:
        return None

    def poll(self) -> Outcome | None:
        tracker = self._executor.tracker
        status = tracker.status(self._slurm_id)
        if status is None:
            if tracker.trouble and self._reported != tracker.trouble:
                self._reported = tracker.trouble
                self._executor.report_stage(self.job_id,
                                            f"slurm {self._slurm_id}: {tracker.trouble}",
                                            replace_job_stage=False)
            return None
        if self.running_since is None and status.state not in _WAITING_STATES:
            self.running_since = time.monotonic()
        if status.state != self._reported and status.state != "COMPLETING":
            self._reported = status.state
            self._executor.report_stage(self.job_id, stage_text(status, self._slurm_id),
                                        replace_job_stage=status.state in _WAITING_STATES)
        return outcome_for(status, self._slurm_id)

    @property
    def _slurm_id(self) -> str:
        assert self.backend_id is not None
        return self.backend_id

    def terminate(self) -> None:
        status = self._executor.tracker.status(self._slurm_id)
        started = status is not None and status.state not in _WAITING_STATES
        # a pending job has no process to signal: cancel it outright
        cancel(self._slurm_id, gently=started)

    def kill(self) -> None:
        cancel(self._slurm_id)

    def close(self) -> None:
        self._executor.tracker.forget(self._slurm_id)


class SlurmExecutor:
    """Submits ``backend == "slurm"`` jobs of every kind with ``sbatch``."""

    def __init__(self, context: JobContext | None = None,
                 tracker: SlurmTracker | None = None) -> None:
        self.context = context
        self.tracker = tracker or SlurmTracker()
        self._store: Store | None = None

    def accepts(self, job: JobRecord) -> bool:
        return job.backend == "slurm"

    def start(self, job: JobRecord, context: JobContext) -> Execution:
        if not os.path.isdir(job.cwd):
            return Ended(job.id, Outcome(None, f"working directory {job.cwd} does not exist"
                                                 " on this host"))
        owner = context.identity(job)        # sbatch as the owner: SLURM runs the job as them
        try:
            script, options = self._prepare(job, context, owner)
            slurm_id = submit_batch(script, options, sbatch_environment(job, context, owner),
                                    owner)
        except SlurmError as exc:
            return Ended(job.id, Outcome(None, str(exc)))
        except OSError as exc:
            return Ended(job.id, Outcome(None, f"cannot write the SLURM batch script: {exc}"))
        log.info("%s submitted to SLURM as job %s", job.id, slurm_id)
        self.tracker.watch(slurm_id)
        return SlurmExecution(job.id, slurm_id, self)

    @staticmethod
    def _prepare(job: JobRecord, context: JobContext,
                 owner: Identity | None = None) -> tuple[str, list[str]]:
        """Write ``<queue>/slurm/<id>.sh`` (and the stdin file); return it and sbatch's options.
        With an ``owner``, they and the log files (made here: the owner may not create files in
        the queue's folders) are the owner's, for sbatch and the job to read and write."""
        layout = context.layout
        script = script_path(context, job.id)
        folder = script.parent
        folder.mkdir(exist_ok=True)
        if owner is not None:           # members pass through, to their own files only
            os.chown(folder, -1, owner.file_group)
            os.chmod(folder, 0o750)
        script.write_text(batch_script(job, context))
        made = [script]
        stdin = None
        if job.options.stdin_b64 is not None:
            stdin_path = folder / f"{job.id}.stdin"
            stdin_path.write_bytes(base64.b64decode(job.options.stdin_b64))
            stdin = str(stdin_path)
            made.append(stdin_path)
        if job.options.capture:
            output, errors = str(layout.log(job.id)), str(layout.stderr(job.id))
        else:
            output, errors = str(layout.log(job.id)), None
        if owner is not None:
            for log_file in filter(None, (output, errors)):
                Path(log_file).touch()
            made += [Path(p) for p in (output, errors) if p]
            for path in made:
                owner.own(path, 0o600 if path.parent == folder else None)
        return str(script), sbatch_options(job, output, errors, stdin)

    def report_stage(self, job_id: str, text: str, *, replace_job_stage: bool) -> None:
        """Show SLURM's state as the job's stage; never hide a stage the job reported itself."""
        try:
            if self._store is None:
                assert self.context is not None
                self._store = Store(self.context.layout)
            if not replace_job_stage:
                current = self._store.get(job_id).stage
                if current and not current.startswith("slurm "):
                    return
            self._store.set_progress(job_id, None, text)
        except (JobmagicsError, AssertionError, OSError, sqlite3.Error) as exc:
            log.debug("could not show the SLURM state of %s: %s", job_id, exc)

    def shutdown(self) -> None:
        self.tracker.stop()
        if self._store is not None:
            self._store.close()


def batch_script(job: JobRecord, context: JobContext) -> str:
    """A POSIX shell script that replaces itself with the job's process (``exec``), so
    scancel's signals reach the job directly."""
    argv = " ".join(shlex.quote(arg) for arg in job_argv(job, context))
    return (f"#!/bin/sh\n"
            f"# jobmagics {job.id} attempt {job.attempt}, submitted by worker {context.worker_id}\n"
            f"exec {argv}\n")


def sbatch_environment(job: JobRecord, context: JobContext,
                       owner: Identity | None = None) -> dict[str, str]:
    """The job's environment (exported to the job by ``--export=ALL``) plus what sbatch itself
    needs to find the cluster, even when the job replaces its environment."""
    env = job_environment(job, context, owner)
    for name in ("SLURM_CONF", "PATH"):
        if name in os.environ and name not in env:
            env[name] = os.environ[name]
    return env


def script_path(context: JobContext, job_id: str) -> Path:
    return context.layout.root / "slurm" / f"{job_id}.sh"
