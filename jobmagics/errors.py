"""The one error tree of jobmagics.

Every exception a user can meet derives from :class:`JobmagicsError` and carries a message
that says what went wrong and what to do. The edges convert them: magics raise IPython's
``UsageError``, the CLI prints one line and exits 2, the server maps them to HTTP statuses.
"""
from __future__ import annotations


class JobmagicsError(Exception):
    """Base class of every error jobmagics raises on purpose."""


class QueueError(JobmagicsError):
    """Raised when the queue directory or its database cannot be opened, read or written."""


class ServiceUnavailable(QueueError):
    """Raised when a system queue's service does not answer (not running, gone away, or the
    caller is not in the queue's group). Nothing was changed by the request that failed."""


class QueueBusy(QueueError):
    """Raised when another process held the queue's write lock for longer than this
    connection waits (its busy timeout). Nothing was changed; trying again may succeed."""


class JobNotFound(JobmagicsError, LookupError):
    """Raised when a job id does not exist in the queue."""

    def __init__(self, job_id: str, message: str | None = None) -> None:
        super().__init__(message or f"no job {job_id!r} in this queue (see `jobmagics history`)")
        self.job_id = job_id


class ScheduleNotFound(JobNotFound):
    """Raised when no recurring schedule of the queue has the given name."""

    def __init__(self, name: str, message: str | None = None) -> None:
        super().__init__(name, message or f"no schedule named {name!r} in this queue"
                                          " (see `jobmagics schedule list`)")


class InvalidJob(JobmagicsError, ValueError):
    """Raised when a submission or an argument is malformed (bad priority, unknown resource,
    unparsable memory size, code that does not compile, ...). Nothing is changed."""


class InvalidTransition(JobmagicsError):
    """Raised when a job cannot make the requested move from its current state
    (cancel a completed job, hold a running one, retry a pending one)."""


class PermissionDenied(JobmagicsError, PermissionError):
    """Raised when a user acts on another user's job without being a queue admin."""


class NoWorker(JobmagicsError):
    """Raised when a job would wait forever because no worker serves the queue and
    jobmagics may not start one (a shared queue)."""


class JobFailed(JobmagicsError):
    """Raised by ``Job.result()`` when the job did not complete; the job's own exception, if
    it was a function job, is chained as ``__cause__``."""

    def __init__(self, message: str, job_id: str, state: str) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.state = state


class WaitTimeout(JobmagicsError, TimeoutError):
    """Raised when ``Job.wait(timeout=...)`` runs out of time before the job ends."""


class NotInJob(JobmagicsError):
    """Raised when ``jobmagics.current_job()`` is called outside of a running job."""


class DatabaseMissing(QueueError):
    """Raised when a queue folder that has held jobs has no database, or an empty one (it
    was deleted or truncated). Nothing is created: ``jobmagics init --recover DIR`` rebuilds
    it without reusing any job id."""


class DatabaseDamaged(QueueError):
    """Raised when the queue database fails SQLite's checks (garbage in the file). Reads may
    still work; writes are refused until ``jobmagics init --recover DIR``."""


class DatabaseReplaced(QueueError):
    """Raised when ``jobs.db`` was deleted, truncated or replaced by another file after this
    process opened it; nothing more is written to either file."""


class DiskFull(QueueError):
    """Raised when a write to the queue failed because its disk is full; nothing was changed."""


class ResultNotSent(JobmagicsError):
    """Raised inside a job when what it must send back to the caller (a function's return value,
    the ``--pull`` variables, an experiment's summary) is missing or cannot be pickled: the job
    then ends ``failed`` with this message, and ``result()`` raises it."""


class WorkerLost(JobmagicsError):
    """Raised by ``Job.wait()`` (and ``jobmagics wait``, ``logs -f``) when the job is still
    recorded as running on a worker that is gone, and no live worker is left to recover it:
    it would wait forever. The next worker to start requeues the job (or fails it)."""

    def __init__(self, message: str, job_id: str) -> None:
        super().__init__(message)
        self.job_id = job_id
