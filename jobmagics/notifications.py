"""Notifications outside JupyterLab (email, webhooks): the queue's settings for them, a user's
defaults, and what was sent."""
from __future__ import annotations


class NotificationsAPI:
    """A part of ``Queue`` (being built: issue 12)."""
