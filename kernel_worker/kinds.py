"""How this worker executes each kind of job; ``jobmagics.kinds`` says what a kind is.

Each registered kind has one ``KindExecution``: what its child process runs (the subprocess
and SLURM executors, and the zygote for the kinds it may fork), a runner module of ours or the
job's own program (a command's argv), and the work a Jupyter kernel executes for it (the kernel
executor). A test checks that every kind of ``jobmagics.kinds`` has an entry here. A job of
a kind that is not registered (a row written by hand, or by a newer jobmagics) fails with the
registry's message before any executor sees it: it never runs as some other kind."""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from jobmagics import kinds
from jobmagics.errors import InvalidJob
from jobmagics.model import JobRecord, format_memory
from jobmagics.outputs import last_line as log_last_line
from jobmagics.paths import QueueLayout

from .executors.base import Outcome
from .executors.kernel_work import KernelWork, code_work, experiment_work

__all__ = ["EXECUTIONS", "KindExecution", "execution_of", "failure_message", "forkable_runner",
           "kernel_work_for", "last_line"]
OUT_OF_MEMORY = ("MemoryError", "Cannot allocate memory")    # words of a log's last line


@dataclass(frozen=True)
class KindExecution:
    """The ways this worker runs one kind of job."""

    kind: kinds.Kind
    # its process runs one of: `python -m RUNNER QUEUE JOB_ID` in the job's Python, or its own
    # program, argv(job) (a command's argv; a kind that runs `sh -c LINE` would say so here)
    runner: str | None = None
    argv: Callable[[JobRecord], list[str]] | None = None
    # None: never in a kernel; its third argument: may the job's owner run code in that kernel
    kernel_work: Callable[[JobRecord, str, bool], KernelWork] | None = None
    fresh_kernel: bool = False   # may take a fresh kernel; else only the persistent kernel of
    #                              a resource it holds (an experiment goes to the station's)

    def __post_init__(self) -> None:
        if (self.runner is None) == (self.argv is None):
            raise ValueError(f"{self.kind.name} jobs run a runner or their own argv: give one")

    @property
    def forkable(self) -> bool:
        """The zygote may fork it (it runs a runner of ours, which the zygote pre-imported)."""
        return self.kind.forkable and self.runner is not None


_RUNNERS = "kernel_worker.runners"
EXECUTIONS: Mapping[str, KindExecution] = MappingProxyType({e.kind.name: e for e in (
    KindExecution(kinds.COMMAND, argv=lambda job: list(job.command or [])),
    KindExecution(kinds.PYTHON, runner=f"{_RUNNERS}.python_job", kernel_work=code_work,
                  fresh_kernel=True),
    KindExecution(kinds.FUNCTION, runner=f"{_RUNNERS}.function_job"),
    KindExecution(kinds.EXPERIMENT, runner=f"{_RUNNERS}.experiment_job",
                  kernel_work=experiment_work),
)})


def execution_of(name: str) -> KindExecution:
    """How the kind called ``name`` runs here; ``InvalidJob`` for a kind that is not
    registered (the message names the kinds that are)."""
    found = EXECUTIONS.get(kinds.kind(name).name)
    if found is None:       # registered in jobmagics but not here: a test keeps this from happening
        raise InvalidJob(f"this worker has no way to run {name} jobs")
    return found


def forkable_runner(name: str) -> str:
    """The runner module the zygote runs for a job of kind ``name``; ``InvalidJob`` unless
    that kind is registered and may be forked."""
    execution = execution_of(name)
    if not execution.forkable or execution.runner is None:
        raise InvalidJob(f"{name} jobs are not forked from the zygote")
    return execution.runner


def kernel_work_for(job: JobRecord, queue_root: str, trusted: bool = True) -> KernelWork:
    """What a kernel executes for ``job``; ``InvalidJob`` if its kind never runs in one.
    Not ``trusted``: its owner may not run code of theirs in that kernel (an instrument's)."""
    make = execution_of(job.kind).kernel_work
    if make is None:
        raise InvalidJob(f"{job.kind} jobs do not run in a Jupyter kernel")
    return make(job, queue_root, trusted)


def failure_message(job: JobRecord, outcome: Outcome, layout: QueueLayout) -> str:
    """A failed attempt in one line, as the job's kind describes it
    (``jobmagics.kinds.Kind.describe_failure``: the executor's word, after the last line of the
    log where that line says why), plus what the job's memory request has to do with it."""
    message = outcome.error or f"exit code {outcome.exit_code}"
    last = last_line(layout.log(job.id)) or last_line(layout.stderr(job.id))
    out_of_memory = bool(last and any(word in last for word in OUT_OF_MEMORY))
    kind = kinds.KINDS.get(job.kind)
    if kind is not None:
        message = kind.describe_failure(message, last, telling=out_of_memory)
    elif last and last not in message:      # an unknown kind: its log says why it failed
        message = f"{last} ({message})"
    if job.memory is not None and (out_of_memory or "SIGKILL" in message):
        message += f"; the job asked for {format_memory(job.memory)} of memory"
    return message


def last_line(path: os.PathLike[str] | str) -> str | None:
    """The last non-blank line of a job's log (at most 500 characters), or None when there is
    none or it cannot be read."""
    try:
        line = log_last_line(path)
    except OSError:
        return None
    return line[:500] if line else None
