"""The notifications outbox: rows written when a job ends (``lifecycle``), taken, sent and marked
by workers."""
from __future__ import annotations

from .schema import SchemaAware


class OutboxMixin(SchemaAware):
    """(being built: issue 12)"""
