"""A user's edits of a job that has not started: its place in line (``move``) and its settings
(``update``), each an event in its history."""
from __future__ import annotations

from .schema import SchemaAware


class EditsMixin(SchemaAware):
    """(being built: issue 12)"""
