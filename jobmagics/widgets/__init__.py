"""Live notebook widgets: ``JobWidget`` (one job), ``ArrayWidget`` (one array) and
``QueuePanel`` (the whole queue), all kept up to date by one shared background poller per
kernel; ``live_display`` shows a Job, JobArray or Queue as one of them, ``live_views`` keeps
track of the live outputs. The widgets load on first use (ipywidgets is not free to import):
``%load_ext jobmagics`` only installs ``live_views``' hooks."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .array_view import ArrayWidget
    from .job_widget import JobWidget
    from .poller import Poller, shared_poller
    from .queue_panel import QueuePanel

__all__ = ["ArrayWidget", "JobWidget", "Poller", "QueuePanel", "shared_poller"]
_WHERE = {"ArrayWidget": "array_view", "JobWidget": "job_widget", "Poller": "poller",
          "shared_poller": "poller", "QueuePanel": "queue_panel"}


def __getattr__(name: str) -> object:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
