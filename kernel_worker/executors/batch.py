"""Running jobs on a batch system (SLURM, PBS): what every system shares.

``BatchExecutor`` submits a job with the system's submit command and follows it through one
shared tracker; the system (``slurm.SlurmSystem``, ``pbs.PbsSystem``) says how to write the
script, submit, cancel and read states. Beyond one job per submission:

- **Arrays.** Starting one element of an array, the executor takes every pending sibling at
  once (``store.claim_elements``) and submits them all as ONE array job (a system with
  arrays); each element's ``backend_id`` is ``<array job>_<index>``. The worker is handed the
  siblings it did not claim itself through ``adopted()``. Stopping every element of an array
  job is one cancel of that array job.
- **Chains.** Submitting a job, the executor also takes the waiting children whose parents all
  completed or now wait in the same system (``store.claim_chained``) and submits them at once
  with the system's own dependency (``afterok``): a chain never waits on the queue's host
  between its links.
- **Files, not the database.** Runners on a compute node read their input from, and report
  progress and results to, files (``batch_files``); ``poll()`` ingests them.

The queue folder must be visible at the same path on the compute nodes (a shared filesystem).
"""
from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from jobmagics.context import ARRAY_ID_VAR, ARRAY_INDEX_VAR, ATTEMPT_VAR, JOB_ID_VAR
from jobmagics.model import JobRecord

from ..identity import Identity
from .base import JobContext, Outcome
from .batch_tracker import BatchStatus, BatchTracker
from .subprocess import job_argv

if TYPE_CHECKING:
    from .batch_executor import BatchExecutor

RESULT_KINDS = frozenset({"function", "python"})   # their runners report a result (a file here)


@dataclass
class Batch:
    """One submission: a job, or elements of one array submitted as one array job."""

    jobs: list[JobRecord]
    array_id: str | None = None
    parallel: int | None = None
    # what it runs after: (backend id, whether it stands for its whole array job)
    after: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def first(self) -> JobRecord:
        return self.jobs[0]


class BatchSystem(Protocol):
    """What a batch system provides to ``BatchExecutor``."""

    name: str           # the jobs' backend: "slurm", "pbs"
    label: str          # in messages: "SLURM"
    arrays: bool        # runs an array's elements as one array job
    chains: bool        # holds a job until others completed (afterok)
    exit_files: bool    # its script writes the exit status (the system does not keep it)

    def tracker(self) -> BatchTracker: ...

    def script(self, batch: Batch, context: JobContext, reports: Path) -> str: ...

    def submit(self, batch: Batch, script: Path, env: dict[str, str],
               owner: Identity | None, context: JobContext) -> list[str]:
        """Submit; the backend id of each job of the batch. Raises ``JobmagicsError``."""

    def cancel(self, backend_ids: Sequence[str], *, gently: bool) -> None: ...

    def submission_of(self, backend_id: str) -> str:
        """The submission a backend id is part of (an array job for each of its tasks)."""

    def outcome(self, status: BatchStatus, backend_id: str,
                exit_code: int | None) -> Outcome | None: ...

    def never_starts(self, status: BatchStatus) -> str | None:
        """Why a job the system still holds can never start (None: it can)."""

    def stage(self, status: BatchStatus, backend_id: str) -> str: ...


def exec_line(job: JobRecord, context: JobContext) -> str:
    """The job's process as a shell command line (each argument quoted)."""
    return " ".join(shlex.quote(arg) for arg in job_argv(job, context))


def element_exports(job: JobRecord) -> str:
    """What differs between the elements of one array job: their marks in the environment."""
    marks = {JOB_ID_VAR: job.id, ATTEMPT_VAR: str(job.attempt)}
    if job.array_id is not None:
        marks.update({ARRAY_ID_VAR: job.array_id, ARRAY_INDEX_VAR: str(job.array_index)})
    return " ".join(f"{name}={shlex.quote(value)}" for name, value in marks.items()) + \
        f"; export {' '.join(marks)}"


def submission_signature(job: JobRecord) -> tuple[object, ...]:
    """Jobs of one array job share one script's options and environment: these."""
    options = job.options
    return (job.user, job.cwd, job.cpus, job.memory, job.timeout, job.name, job.kind,
            tuple(sorted(job.env.items())), tuple(options.sbatch_args or ()),
            options.env_replace, options.capture, options.stdin_b64, options.python)


class BatchExecution:
    """One attempt as a job (or array task) of a batch system. Polled (no file descriptor);
    ``poll()`` reads the tracker's last answer and the files the job wrote, so it is cheap
    however often the worker calls it."""

    pid: int | None = None
    pid_started: float | None = None

    def __init__(self, job: JobRecord, backend_id: str, executor: BatchExecutor,
                 owner_uid: int | None) -> None:
        self.job_id = job.id
        self.attempt = str(job.attempt)
        self.kind = job.kind
        self.backend_id: str | None = backend_id
        self.owner_uid = owner_uid
        self._executor = executor
        self._reported: str | None = None
        self._ended_at: float | None = None     # when the system said it ended (monotonic)
        self.stopping = False                   # the worker asked it to stop
        self.exit_code: int | None = None       # what its exit file said (PBS)
        self.result_taken = False
        # when the system first showed it running (monotonic): the worker starts the job's
        # timeout there, so time spent queued in a busy cluster is not counted
        self.running_since: float | None = None

    @property
    def _id(self) -> str:
        assert self.backend_id is not None
        return self.backend_id

    def fileno(self) -> int | None:
        return None

    def poll(self) -> Outcome | None:
        executor = self._executor
        executor.tend()
        status = executor.tracker.status(self._id)
        if status is None:
            trouble = executor.tracker.trouble
            if trouble and self._reported != trouble:
                self._reported = trouble
                executor.report_stage(self.job_id, f"{executor.system.name} {self._id}:"
                                                   f" {trouble}", replace_job_stage=False)
            return None
        if self.running_since is None and not status.waiting:
            self.running_since = time.monotonic()
        if status.state != self._reported:
            self._reported = status.state
            executor.report_stage(self.job_id, executor.system.stage(status, self._id),
                                  replace_job_stage=status.waiting)
        if status.terminal:
            return executor.settle(self, status)
        never = executor.system.never_starts(status)
        return None if never is None else executor.abandon(self, never)

    def waited_since_end(self) -> float:
        """Seconds since the system first said the attempt ended, or can never start (0 the
        first time this is asked)."""
        now = time.monotonic()
        if self._ended_at is None:
            self._ended_at = now
        return now - self._ended_at

    def terminate(self) -> None:
        status = self._executor.tracker.status(self._id)
        # a job still queued has no process to signal: cancel it outright
        self._executor.request_stop(self, gently=status is not None and not status.waiting)

    def kill(self) -> None:
        self._executor.request_stop(self, gently=False)

    def close(self) -> None:
        self._executor.closed(self)
