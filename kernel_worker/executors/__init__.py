"""Executors run one attempt of a job; the worker only sees the ``Execution`` interface."""
from __future__ import annotations

from .base import Ended, Execution, Executor, JobContext, Outcome

__all__ = ["Ended", "Execution", "Executor", "JobContext", "Outcome"]
