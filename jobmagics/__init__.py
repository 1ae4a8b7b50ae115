"""jobmagics: a Jupyter-native job queue for labs."""
from __future__ import annotations

from .client import Queue
from .context import current_job, progress
from .dropin import run
from .errors import (InvalidJob, InvalidTransition, JobFailed, JobmagicsError, JobNotFound, NoWorker,
                     NotInJob, PermissionDenied, QueueError, WaitTimeout)
from .job import Job
from .model import State

__version__ = "0.1.0"
__all__ = ["Queue", "Job", "State", "run", "progress", "current_job", "JobmagicsError", "JobNotFound",
           "InvalidJob", "InvalidTransition", "PermissionDenied", "QueueError", "NoWorker", "JobFailed",
           "WaitTimeout", "NotInJob"]


def load_ipython_extension(ipython):  # type: ignore[no-untyped-def]
    from .magics import JobMagics
    ipython.register_magics(JobMagics)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the built "Jobs" sidebar lives (for ``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "jobmagics"}]
