"""Conversions between SQLite rows and model records."""
from __future__ import annotations

import dataclasses
import json
import sqlite3
from typing import Any

from ..fields import declared_fields, stored_columns
from ..model import JobOptions, JobRecord, JobSettings, JobSpec, State, WorkerRecord

# The jobs table's columns that a JobRecord reads, and those a submission writes, as the
# fields declare them (model.JobSettings, model.JobRecord).
JOB_COLUMNS = ", ".join(stored_columns(JobRecord))
SUBMITTED_COLUMNS = tuple(f.name for f in declared_fields(JobSettings) if f.stored)
_JSON_FIELDS = tuple(f.name for f in declared_fields(JobRecord) if f.json)
_BOOL_FIELDS = tuple(f.name for f in declared_fields(JobRecord) if f.hint is bool)
_STORED = stored_columns(JobRecord)


def job_columns(present: set[str]) -> str:
    """JOB_COLUMNS for a jobs table that has only the ``present`` columns (an older queue read
    where it could not be migrated): a column added since reads as its field's default."""
    defaults = {f.name: f.default for f in declared_fields(JobRecord) if f.stored}
    return ", ".join(name if name in present else f"{_sql_literal(defaults[name])} AS {name}"
                     for name in defaults)


def _sql_literal(value: Any) -> str:
    """A declared default as SQL text (a default is the code's own constant, never input)."""
    if value is None or value is dataclasses.MISSING:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    text = value if isinstance(value, str) else json.dumps(
        value.to_json() if isinstance(value, JobOptions) else value)
    return "'" + text.replace("'", "''") + "'"


def job_from_row(row: sqlite3.Row) -> JobRecord:
    """The record of a row that starts with JOB_COLUMNS (or ``job_columns()``, in that order);
    columns a query added after them for ordering (seq, ...) are dropped."""
    data: dict[str, Any] = dict(zip(_STORED, row, strict=False))     # longer rows: extras
    for name in _JSON_FIELDS:
        text = data[name]
        if text is not None:       # most are empty: a fresh one without decoding (pages of 1,000)
            data[name] = [] if text == "[]" else {} if text == "{}" else json.loads(text)
    for name in _BOOL_FIELDS:
        data[name] = bool(data[name])
    data["state"] = State(data["state"])
    data["options"] = JobOptions.stored(data["options"])
    return JobRecord(**data)


def submitted_values(spec: JobSpec, like: tuple[JobSpec, list[Any]] | None = None) -> list[Any]:
    """The values of SUBMITTED_COLUMNS for a validated spec, as stored. ``like``: another spec
    and its values; a field that holds the very same object is not encoded again (an array's
    elements share all but their body)."""
    values: list[Any] = []
    other, encoded = like if like is not None else (None, [])
    for position, name in enumerate(SUBMITTED_COLUMNS):
        value = getattr(spec, name)
        if other is not None and getattr(other, name) is value:
            values.append(encoded[position])
            continue
        if name == "options":
            value = value.to_json()
        values.append(dumps(value) if name in _JSON_FIELDS else
                      int(value) if isinstance(value, bool) else value)
    return values


def worker_from_row(row: sqlite3.Row) -> WorkerRecord:
    data: dict[str, Any] = dict(row)
    data["resources"] = json.loads(data["resources"])
    data["units"] = json.loads(data.get("units") or "{}")
    return WorkerRecord(**data)


_COMPACT = json.JSONEncoder(separators=(",", ":"))   # json.dumps with options builds one per call


def dumps(value: Any) -> str | None:
    return None if value is None else _COMPACT.encode(value)
