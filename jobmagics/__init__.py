"""jobmagics: a Jupyter-native job queue for labs."""
from __future__ import annotations

from .client import Queue
from .context import current_job, progress
from .errors import (InvalidJob, InvalidTransition, JobFailed, JobmagicsError, JobNotFound, NoWorker,
                     NotInJob, PermissionDenied, QueueError, WaitTimeout)
from .job import Job
from .model import State

__version__ = "0.1.0"
__all__ = ["Queue", "Job", "State", "run", "progress", "current_job", "JobmagicsError", "JobNotFound",
           "InvalidJob", "InvalidTransition", "PermissionDenied", "QueueError", "NoWorker", "JobFailed",
           "WaitTimeout", "NotInJob"]


def run(*args, **kwargs):  # type: ignore[no-untyped-def]
    """A drop-in for ``subprocess.run`` that goes through the queue (see ``jobmagics.dropin``)."""
    from .dropin import run as _run
    return _run(*args, **kwargs)


def load_ipython_extension(ipython):  # type: ignore[no-untyped-def]
    from .magics import JobMagics
    ipython.register_magics(JobMagics)
