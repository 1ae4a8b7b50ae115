"""How an ended attempt is recorded: the worker's reason to stop it (if it had one) and the
executor's ``Outcome`` make the job's new state, its error and the result its process
reported (``store.dispatch.AttemptEnd``)."""
from __future__ import annotations

from collections.abc import Callable

from jobmagics.model import JobRecord, State
from jobmagics.paths import QueueLayout
from jobmagics.store.dispatch import AttemptEnd

from ..kinds import failure_message
from ..space import DISK_FULL
from .base import Outcome


def attempt_end(job: JobRecord, outcome: Outcome, stop_reason: str | None,
                stop_detail: str | None, disk_full: Callable[[], bool],
                layout: QueueLayout) -> AttemptEnd:
    """``stop_reason``: "timeout" | "cancel" | "memory" | "disk" (None: it ended by itself);
    ``disk_full()``: is the queue's disk full now (asked of failures only: they then say so)."""
    error: str | None
    if stop_reason == "timeout":
        state, error = State.TIMEOUT, f"timed out after {job.timeout:g} s"
    elif stop_reason == "cancel":
        state, error = State.CANCELLED, "cancelled while running"
    elif stop_reason in ("memory", "disk"):
        state, error = State.FAILED, stop_detail
    elif outcome.state in ("timeout", "cancelled"):     # the backend (SLURM) ended it so
        state, error = State(outcome.state), outcome.error
    elif outcome.ok:
        state, error = State.COMPLETED, None
    elif disk_full():
        reason = outcome.error or f"exit code {outcome.exit_code}"
        state, error = State.FAILED, f"{DISK_FULL} ({reason})"
    else:
        state, error = State.FAILED, failure_message(job, outcome, layout)
    report = getattr(outcome, "report", None)     # the result its process sent us (zygote)
    result = None if report is None else (report.ok, report.blob, report.error)
    return AttemptEnd(job.id, state, outcome.exit_code, error, result)
