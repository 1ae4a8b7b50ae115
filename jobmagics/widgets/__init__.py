"""Live notebook widgets: ``JobWidget`` (one job) and ``QueuePanel`` (the whole queue), both
kept up to date by one shared background poller per kernel."""
from __future__ import annotations

from .job_widget import JobWidget
from .poller import Poller, shared_poller
from .queue_panel import QueuePanel

__all__ = ["JobWidget", "Poller", "QueuePanel", "shared_poller"]
