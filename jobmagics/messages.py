"""What a notification says: the one sentence (a webhook's ``text``, an email's subject), the
email's body and the webhook's JSON, plus ``Notification``, one row of the outbox. Plain data:
no I/O here (the worker's ``notifier`` reads the log tail and sends)."""
from __future__ import annotations

import dataclasses
import hashlib
import time
from dataclasses import asdict, dataclass
from typing import Any

from .arrays import ArrayRecord
from .formats import format_duration
from .model import RETRYABLE, JobRecord, State

LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class Notification:
    """One notification of the outbox: a target told of one end (state) of one attempt."""

    id: int
    job_id: str
    attempt: int
    state: str
    target: str
    created_at: float
    tries: int
    next_try_at: float
    sending_by: str | None
    sending_until: float | None
    sent_at: float | None
    failed_at: float | None
    last_error: str | None

    @property
    def status(self) -> str:
        """sent, failed, sending (a worker holds it now) or waiting."""
        if self.sent_at is not None:
            return "sent"
        if self.failed_at is not None:
            return "failed"
        if self.sending_until is not None and self.sending_until > time.time():
            return "sending"
        return "waiting"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"status": self.status}

    @property
    def key(self) -> str:
        """The same on every try of this notification (an email's Message-ID, a webhook's
        Idempotency-Key), so a receiver can drop the duplicate a crash may cause."""
        digest = hashlib.sha256(self.target.encode()).hexdigest()[:12]
        return f"{self.job_id}.{self.attempt}.{self.state}.{digest}"


def status_line(n: Notification, clock: Any = None) -> str:
    """What ``jobmagics status`` shows of one notification, e.g. ``sent 23:04:11 (1 try)``."""
    when = clock or _clock
    tries = f"{n.tries} tr{'y' if n.tries == 1 else 'ies'}"
    if n.sent_at is not None:
        return f"sent {when(n.sent_at)} ({tries})"
    if n.failed_at is not None:
        return f"failed: {n.last_error or 'gave up'} (gave up {when(n.failed_at)}, {tries})"
    if n.status == "sending":
        return f"sending ({tries})"
    if n.tries:
        return f"waiting, next try {when(n.next_try_at)} ({tries}; last: {n.last_error})"
    return "waiting"


def _clock(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(moment))


# ---- the texts --------------------------------------------------------------------------
def sentence(job: JobRecord, state: str, viewer: str | None = None) -> str:
    """``Job JOB-... (fit) of alice failed: exit code 3`` / ``... completed in 2m 03s``;
    told to ``viewer``, their own job is ``Job JOB-... (fit) failed: exit code 3``."""
    name = f" ({job.name})" if job.name else ""
    noun = "Array" if job.array_id == job.id else "Job"
    whose = "" if viewer == job.user else f" of {job.user}"
    return f"{noun} {job.id}{name}{whose} {_outcome(job, state)}"


def as_array(element: JobRecord, array: ArrayRecord) -> JobRecord:
    """What the notification of an array's end tells (posted with the element that ended it,
    ``lifecycle.post_notifications``): the array's id, name and times, and its elements that
    did not complete as its error."""
    counts = {state: n for state, n in array.counts.items() if n}
    bad = [f"{counts[s.value]} {s.value}" for s in RETRYABLE if counts.get(s.value)]
    error = f"{', '.join(bad)} of its {array.size} elements" if bad else None
    return dataclasses.replace(
        element, id=array.id, array_id=array.id, name=array.name, error=error,
        exit_code=None, started_at=array.started_at,
        finished_at=array.finished_at or element.finished_at)


def _outcome(job: JobRecord, state: str) -> str:
    error = (job.error or "").strip().splitlines()[0] if job.error else ""
    if state == State.COMPLETED.value:
        took = _took(job)
        return f"completed in {took}" if took else "completed"
    if state == State.FAILED.value:
        if error:              # (never "failed: failed to ...")
            return error if error.startswith("failed") else f"failed: {error}"
        return f"failed: exit code {job.exit_code}" if job.exit_code is not None else "failed"
    if state == State.TIMEOUT.value:
        return error if error.startswith("timed out") else "timed out"
    if state == State.CANCELLED.value:    # "was cancelled by bob", not "...: cancelled by bob"
        if error.startswith("cancelled"):
            return f"was {error}"
        return f"was cancelled: {error}" if error else "was cancelled"
    return f"ended {state}"


def _took(job: JobRecord) -> str | None:
    if job.started_at is None or job.finished_at is None:
        return None
    return format_duration(job.finished_at - job.started_at)


def subject(job: JobRecord, state: str) -> str:
    return f"[jobmagics] {sentence(job, state)}"[:240]


def email_body(job: JobRecord, state: str, log_tail: str, queue: str) -> str:
    """The plain-text body: the sentence, the job's times and error, its log's last lines
    and how to see more."""
    rows = [("state", state), ("attempt", f"{job.attempt} of {job.retries + 1}"),
            ("submitted", _clock(job.submitted_at)),
            ("started", _clock(job.started_at) if job.started_at else "-"),
            ("finished", _clock(job.finished_at) if job.finished_at else "-"),
            ("exit code", "-" if job.exit_code is None else str(job.exit_code)),
            ("error", job.error or "-"), ("host", job.host), ("queue", queue)]
    lines = [sentence(job, state), ""]
    lines += [f"{label:>10}  {value}" for label, value in rows]
    lines += ["", f"last {LOG_TAIL_LINES} lines of its log:" if log_tail.strip()
              else "its log is empty.", ""]
    lines += [f"    {line}" for line in log_tail.splitlines()]
    lines += ["", f"More: jobmagics status {job.id} --queue {queue}", ""]
    return "\n".join(lines)


def webhook_json(job: JobRecord, state: str, queue: str) -> dict[str, Any]:
    """``text`` (what Slack, Mattermost and Teams incoming webhooks show) and the job's fields
    under ``job`` (for receivers that read them)."""
    return {"text": sentence(job, state),
            "job": {"id": job.id, "name": job.name, "user": job.user, "host": job.host,
                    "state": state, "attempt": job.attempt, "exit_code": job.exit_code,
                    "error": job.error, "submitted_at": job.submitted_at,
                    "started_at": job.started_at, "finished_at": job.finished_at,
                    "queue": queue}}


def log_tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log's end (the caller reads only its last bytes)."""
    return "\n".join(text.splitlines()[-lines:])
