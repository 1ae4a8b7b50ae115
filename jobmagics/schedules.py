"""``Queue.schedule`` and the schedules' verbs (list, pause, resume, remove, run-now)."""
from __future__ import annotations


class SchedulesAPI:
    """A part of ``Queue`` (being built: issue 12)."""
