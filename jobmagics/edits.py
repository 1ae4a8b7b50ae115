"""``Queue.move``/``Queue.update``: reordering and editing jobs that have not started."""
from __future__ import annotations


class EditsAPI:
    """A part of ``Queue`` (being built: issue 12)."""
