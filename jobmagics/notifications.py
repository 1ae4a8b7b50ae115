"""Notifications outside JupyterLab (email, webhooks): the queue's settings for them, a user's
defaults, and what was sent."""
from __future__ import annotations

from .model import JobSpec


def with_notify_defaults(spec: JobSpec) -> JobSpec:
    """The spec with the submitting user's notification defaults where it names no target
    (being built: issue 12)."""
    return spec


class NotificationsAPI:
    """A part of ``Queue`` (being built: issue 12)."""
