"""jobmagics: a Jupyter-native job queue for labs."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .client import Queue
from .context import current_job, progress
from .errors import (
    InvalidJob,
    InvalidTransition,
    JobFailed,
    JobmagicsError,
    JobNotFound,
    NotInJob,
    NoWorker,
    PermissionDenied,
    QueueError,
    WaitTimeout,
)
from .job import Job
from .job_array import JobArray
from .model import State

if TYPE_CHECKING:
    from .executor import Executor

__version__ = "0.1.0"
__all__ = [  # noqa: RUF022 - the API first, then the errors, as a reader meets them
    "Queue", "Job", "JobArray", "Executor", "State", "run", "progress", "current_job",
    "JobmagicsError", "JobNotFound", "InvalidJob", "InvalidTransition", "PermissionDenied",
    "QueueError", "NoWorker", "JobFailed", "WaitTimeout", "NotInJob"]

_SUBMODULES = ("configs", "data", "experiments", "instruments")


def __getattr__(name: str) -> object:
    """``jobmagics.data`` and friends on first use: they import h5py/numpy, which plain queue
    users (the CLI, ``run()``) should not pay for; ``run`` on first use too."""
    if name in _SUBMODULES:
        import importlib
        return importlib.import_module(f".{name}", __name__)
    if name == "run":          # subprocess, base64 and the personal-worker logic: on first use
        from .dropin import run
        return run
    if name == "Executor":     # concurrent.futures (and logging with it): on first use
        from .executor import Executor
        return Executor
    raise AttributeError(f"module 'jobmagics' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jobmagics``: the magics (and with them IPython) load here, not on import."""
    from .magics import JobMagics
    ipython.register_magics(JobMagics)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where the built "Jobs" sidebar lives (for ``jupyter labextension develop``)."""
    return [{"src": "labextension", "dest": "jobmagics"}]
