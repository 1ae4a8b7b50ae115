"""``Queue.prune`` and ``Queue.du``: removing finished jobs and their files, and where the space
goes."""
from __future__ import annotations


class RetentionAPI:
    """A part of ``Queue`` (being built: issue 12)."""
