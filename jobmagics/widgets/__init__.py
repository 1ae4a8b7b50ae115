"""Live notebook widgets: ``JobWidget`` (one job), ``ArrayWidget`` (one array) and
``QueuePanel`` (the whole queue), all kept up to date by one shared background poller per
kernel."""
from __future__ import annotations

from .array_view import ArrayWidget
from .job_widget import JobWidget
from .poller import Poller, shared_poller
from .queue_panel import QueuePanel

__all__ = ["ArrayWidget", "JobWidget", "Poller", "QueuePanel", "shared_poller"]
