"""Recurring schedules: their rows, and submitting each due run exactly once (the run and the
schedule's next due time in one transaction)."""
from __future__ import annotations

from .schema import SchemaAware


class SchedulesMixin(SchemaAware):
    """(being built: issue 12)"""
