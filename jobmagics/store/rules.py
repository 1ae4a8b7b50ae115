"""What a job's own state allows a user to do to it now: the part of each move's check that
looks at the job alone (no SQL here). ``lifecycle``'s checks (cancel, retry, hold, release,
delete) and ``edits.check_editable`` (move, edit) raise what these say; the doors show
``allowed`` beside each row (the sidebar's ``may``), so a button is enabled exactly when the
store would take the step. Who may act (its owner or an admin) is decided beside it, and a
retry is still refused at the time if a parent of the job ended without completing (that
needs the queue, and a parent retried in the same batch lifts it)."""
from __future__ import annotations

from collections.abc import Callable

from ..model import ACTIVE, RETRYABLE, TERMINAL, JobRecord, State

EDITABLE_STATES = (State.WAITING, State.PENDING)

Rule = Callable[[JobRecord], "str | None"]


def cancel_refusal(job: JobRecord) -> str | None:
    if job.state in TERMINAL:
        return f"{job.id} is already {job.state.value}; nothing to cancel"
    return None


def hold_refusal(job: JobRecord) -> str | None:
    if job.state not in EDITABLE_STATES or job.held:
        return (f"{job.id} is {'held' if job.held else job.state.value};"
                " only a pending or waiting job can be held")
    return None


def release_refusal(job: JobRecord) -> str | None:
    return None if job.held else f"{job.id} is not held"


def retry_refusal(job: JobRecord) -> str | None:
    if job.state not in RETRYABLE:
        return (f"{job.id} is {job.state.value}; only failed, cancelled or"
                " timed-out jobs can be retried")
    return None


def delete_refusal(job: JobRecord) -> str | None:
    if job.state in ACTIVE:
        return f"{job.id} is {job.state.value}; cancel it before deleting it"
    return None


def edit_refusal(job: JobRecord) -> str | None:
    """Only a job that has not started may move or change."""
    if job.state not in EDITABLE_STATES:
        return (f"{job.id} is {job.state.value}: only waiting or pending jobs can"
                " be moved or changed")
    return None


# The actions a row offers, in the order the sidebar shows them.
RULES: dict[str, Rule] = {
    "cancel": cancel_refusal,
    "retry": retry_refusal,
    "hold": hold_refusal,
    "release": release_refusal,
    "move": edit_refusal,
    "edit": edit_refusal,
}


def allowed(job: JobRecord) -> list[str]:
    """The actions of ``RULES`` the job's state allows now."""
    return [action for action, refusal in RULES.items() if refusal(job) is None]
