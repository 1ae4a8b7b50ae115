"""Applies the queue's retention (retention.days) once a day."""
from __future__ import annotations

from .chores import Chore, ChoreContext


def run(context: ChoreContext, now: float) -> float:
    return 3600.0


CHORE = Chore("retention", run)
