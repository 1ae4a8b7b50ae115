"""Conversions between SQLite rows and model records."""
from __future__ import annotations

import dataclasses
import json
import sqlite3
from typing import Any

from ..model import JobRecord, State, WorkerRecord

JOB_COLUMNS = (
    "id, kind, name, user, host, state, held, priority, resources, cpus, memory, after, timeout,"
    " retries, retry_delay, attempt, submitted_at, started_at, finished_at, exit_code, error,"
    " worker, pid, progress, stage, cancel_requested, backend, backend_id, cwd, env, command,"
    " code, experiment, options"
)
_JSON_FIELDS = ("resources", "after", "env", "command", "experiment", "options")
_RECORD_FIELDS = frozenset(f.name for f in dataclasses.fields(JobRecord))


def job_from_row(row: sqlite3.Row) -> JobRecord:
    """The record of a row; extra columns a query added for ordering (seq, ...) are dropped."""
    data: dict[str, Any] = {k: v for k, v in dict(row).items() if k in _RECORD_FIELDS}
    for name in _JSON_FIELDS:
        if data[name] is not None:
            data[name] = json.loads(data[name])
    data["state"] = State(data["state"])
    data["held"] = bool(data["held"])
    data["cancel_requested"] = bool(data["cancel_requested"])
    return JobRecord(**data)


def worker_from_row(row: sqlite3.Row) -> WorkerRecord:
    data: dict[str, Any] = dict(row)
    data["resources"] = json.loads(data["resources"])
    return WorkerRecord(**data)


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))
