"""The small interface every executor implements (subprocess, Jupyter kernel, SLURM)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from jobmagics.model import JobRecord
from jobmagics.paths import QueueLayout

from ..identity import Identity, OwnerPolicy


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended, as the executor saw it. The worker turns it into a state."""

    exit_code: int | None
    error: str | None = None
    state: str | None = None    # "timeout" | "cancelled" when the backend itself ended it so

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.error is None


@dataclass(frozen=True)
class JobContext:
    """What an executor needs besides the job: where the queue lives, and whether each job
    runs as its owner (a system queue served by root: ``identity``)."""

    layout: QueueLayout
    worker_id: str
    owners: OwnerPolicy = field(default_factory=OwnerPolicy)

    @classmethod
    def of(cls, layout: QueueLayout, worker_id: str) -> JobContext:
        return cls(layout, worker_id, OwnerPolicy.of(layout))

    def identity(self, job: JobRecord) -> Identity | None:
        """The account ``job`` runs as (None: the worker's own); ``NoAccount`` if its owner
        has none on this machine."""
        return self.owners.identity_of(job.user)


class Execution(Protocol):
    """One running attempt of a job."""

    job_id: str
    pid: int | None           # process whose group is the job (None when not local)
    pid_started: float | None
    backend_id: str | None    # e.g. the SLURM job id
    # Executions that wait in another scheduler's queue also have ``running_since``: the
    # monotonic time the job's code started, None until then (its timeout counts from there).

    def fileno(self) -> int | None:
        """A file descriptor that becomes readable when the attempt ends, or None to be polled."""

    def poll(self) -> Outcome | None:
        """The outcome once the attempt has ended, else None. Never blocks."""

    def terminate(self) -> None:
        """Ask the job to stop (SIGTERM to its process group, interrupt a kernel, scancel)."""

    def kill(self) -> None:
        """Stop it now (SIGKILL to the group, restart a kernel)."""

    def close(self) -> None:
        """Release what the execution holds (file descriptors). Called once, after poll()."""


class Executor(Protocol):
    """Runs attempts. An executor that also takes jobs on by itself (a batch system running
    every element of an array as one array job) has ``adopted()``: the (job, execution) pairs
    taken since it was last asked, which the worker then tracks as its own."""

    def accepts(self, job: JobRecord) -> bool:
        """True if this executor runs this kind of job on this backend."""

    def start(self, job: JobRecord, context: JobContext) -> Execution:
        """Start the attempt; a job that cannot start returns an execution already ended."""

    def shutdown(self) -> None:
        """Free long-lived resources (kernels) when the worker stops."""


class Ended:
    """An execution that ended before it began (bad cwd, command not found, ...)."""

    pid: int | None = None
    pid_started: float | None = None
    backend_id: str | None = None

    def __init__(self, job_id: str, outcome: Outcome) -> None:
        self.job_id = job_id
        self._outcome = outcome

    def fileno(self) -> int | None:
        return None

    def poll(self) -> Outcome | None:
        return self._outcome

    def terminate(self) -> None:
        pass

    def kill(self) -> None:
        pass

    def close(self) -> None:
        pass
