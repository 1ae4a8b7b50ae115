"""Run ``--backend slurm`` jobs on a SLURM cluster: ``sbatch`` a script that runs the job
exactly as the subprocess executor would (an array's elements: ONE ``sbatch --array`` whose
tasks each run their element), tracked by one shared squeue poller, stopped with ``scancel``
(a whole array job with one). A chain waits in SLURM with ``--dependency=afterok:``. The
executor's side shared with PBS is ``batch``/``batch_executor``.

The queue folder must be visible at the same path on the compute nodes (a shared
filesystem): the job's log is written there, and python/function jobs exchange files with
the worker in ``<queue>/slurm/reports/`` (never the queue's database)."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from jobmagics.arrays import format_indexes
from jobmagics.model import JobRecord

from ..identity import Identity
from .base import JobContext, Outcome
from .batch import Batch, element_exports, exec_line
from .batch_executor import BatchExecutor
from .batch_tracker import BatchStatus, BatchTracker
from .slurm_commands import (
    SlurmError,
    cancel,
    cancel_orphan,
    run_slurm,
    sbatch_options,
    submit_batch,
)
from .slurm_tracker import SlurmTracker, submission_of

log = logging.getLogger("kernel_worker.slurm")

__all__ = ["Outcome", "SlurmExecutor", "SlurmSystem", "batch_script", "cancel_orphan",
           "outcome_for"]

_TIMEOUT_STATES = frozenset({"TIMEOUT", "DEADLINE"})
NEVER_SATISFIED = "DependencyNeverSatisfied"


def outcome_for(status: BatchStatus, slurm_id: str) -> Outcome | None:
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
        why = ("a job it ran after did not complete" if status.reason == NEVER_SATISFIED
               else "was cancelled in SLURM")
        return Outcome(code, f"SLURM: CANCELLED ({where} {why})", "cancelled")
    detail = f": {status.reason}" if status.reason else ""
    return Outcome(code, f"SLURM: {status.state} ({where}{detail})")


def stage_text(status: BatchStatus, slurm_id: str) -> str:
    """What the job's stage shows while SLURM holds it: ``slurm 42: PENDING (Resources)``."""
    if status.state in ("RUNNING", "COMPLETING") and status.node:
        return f"slurm {slurm_id}: {status.state} on {status.node}"
    reason = f" ({status.reason})" if status.reason else ""
    return f"slurm {slurm_id}: {status.state}{reason}"


def batch_script(job: JobRecord, context: JobContext) -> str:
    """A POSIX shell script that replaces itself with the job's process (``exec``), so
    scancel's signals reach the job directly."""
    return (f"#!/bin/sh\n"
            f"# jobmagics {job.id} attempt {job.attempt}, submitted by worker {context.worker_id}\n"
            f"exec {exec_line(job, context)}\n")


def array_script(batch: Batch, context: JobContext) -> str:
    """One script for every task of an array job: each task runs its element (by
    ``$SLURM_ARRAY_TASK_ID``, the element's index) with that element's marks."""
    header = (f"# jobmagics: {len(batch.jobs)} elements of {batch.array_id},"
              f" submitted by worker {context.worker_id}")
    lines = ["#!/bin/sh", header, 'case "$SLURM_ARRAY_TASK_ID" in']
    lines += [f"{job.array_index}) {element_exports(job)}; exec {exec_line(job, context)} ;;"
              for job in batch.jobs]
    missing = f"jobmagics: no element of {batch.array_id} has index $SLURM_ARRAY_TASK_ID"
    lines += ["esac", f'echo "{missing}" >&2', "exit 2", ""]
    return "\n".join(lines)


def _escaped(path: Path | str) -> str:
    """A path for sbatch's --output, where ``%`` starts a pattern."""
    return str(path).replace("%", "%%")


class SlurmSystem:
    """SLURM for ``BatchExecutor``: sbatch (arrays, afterok), squeue/sacct, scancel."""

    name = "slurm"
    label = "SLURM"
    arrays = True
    chains = True
    exit_files = False

    def tracker(self) -> BatchTracker:
        return SlurmTracker()

    def script(self, batch: Batch, context: JobContext, reports: Path) -> str:
        if batch.array_id is None:
            return batch_script(batch.first, context)
        return array_script(batch, context)

    def submit(self, batch: Batch, script: Path, env: dict[str, str],
               owner: Identity | None, context: JobContext) -> list[str]:
        first, layout = batch.first, context.layout
        stdin = str(script.with_suffix(".stdin")) if first.options.stdin_b64 else None
        if batch.array_id is None:
            log_file, errors = layout.log(first.id), layout.stderr(first.id)
            options = sbatch_options(first, _escaped(log_file),
                                     _escaped(errors) if first.options.capture else None, stdin)
        else:
            options = self._array_options(batch, context, stdin)
        if batch.after:
            options.append("--dependency=afterok:" + ":".join(self._after(batch)))
        try:
            slurm_id = submit_batch(str(script), options, env, owner)
        except SlurmError as exc:
            raise SlurmError(f"{exc}{self._array_hint(batch)}") from None
        if batch.array_id is None:
            return [slurm_id]
        return [f"{slurm_id}_{job.array_index}" for job in batch.jobs]

    @staticmethod
    def _array_options(batch: Batch, context: JobContext, stdin: str | None) -> list[str]:
        first = batch.first
        indexes = format_indexes([job.array_index or 0 for job in batch.jobs])
        logs = _escaped(context.layout.log(first.id).parent)
        errors = f"{logs}/{batch.array_id}_%a.stderr" if first.options.capture else None
        comment = f"jobmagics {batch.array_id} elements {indexes}"
        throttle = f"%{batch.parallel}" if batch.parallel else ""
        return [*sbatch_options(first, f"{logs}/{batch.array_id}_%a.log", errors, stdin,
                                comment), f"--array={indexes}{throttle}"]

    @staticmethod
    def _after(batch: Batch) -> list[str]:
        """afterok's ids: a parent array as its whole array job (SLURM then waits for all of
        its tasks), any other parent by its own id."""
        ids = [submission_of(backend_id) if whole else backend_id
               for backend_id, whole in batch.after]
        return list(dict.fromkeys(ids))

    @staticmethod
    def _array_hint(batch: Batch) -> str:
        if batch.array_id is None:
            return ""
        result = run_slurm(["scontrol", "show", "config"])
        for line in result.stdout.splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "MaxArraySize" and value.strip().isdigit():
                largest = max(job.array_index or 0 for job in batch.jobs)
                if largest >= int(value):
                    return (f" (index {largest} is beyond this cluster's MaxArraySize,"
                            f" {value.strip()})")
        return ""

    def cancel(self, backend_ids: Sequence[str], *, gently: bool) -> None:
        cancel(backend_ids, gently=gently)

    def submission_of(self, backend_id: str) -> str:
        return submission_of(backend_id)

    def outcome(self, status: BatchStatus, backend_id: str,
                exit_code: int | None) -> Outcome | None:
        return outcome_for(status, backend_id)

    def never_starts(self, status: BatchStatus) -> str | None:
        """A job SLURM holds for a dependency that failed: it would wait forever."""
        if status.waiting and status.reason == NEVER_SATISFIED:
            return "a job it runs after did not complete"
        return None

    def stage(self, status: BatchStatus, backend_id: str) -> str:
        return stage_text(status, backend_id)


class SlurmExecutor(BatchExecutor):
    """Submits ``backend == "slurm"`` jobs of every kind with ``sbatch``."""

    def __init__(self, context: JobContext | None = None,
                 tracker: BatchTracker | None = None) -> None:
        super().__init__(SlurmSystem(), context, tracker)
