"""Retention: which finished jobs a prune removes (never one another job still depends on),
removing their rows, and the space the database holds."""
from __future__ import annotations

from .schema import SchemaAware


class RetentionMixin(SchemaAware):
    """(being built: issue 12)"""
