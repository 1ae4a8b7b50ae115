"""The one declaration of a job's fields reaches every door: Python, CLI, magics, REST, JSON."""
from __future__ import annotations

import dataclasses
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from jobmagics.cli.parser import build_parser
from jobmagics.errors import InvalidJob
from jobmagics.fields import (
    META,
    JobField,
    declared_fields,
    from_arguments,
    is_flag_only,
    is_list,
    is_mapping,
    per_attempt,
    settings,
    stored_columns,
)
from jobmagics.magics.parsers import PARSERS
from jobmagics.model import JobOptions, JobRecord, JobSettings, WorkerRecord
from jobmagics.server.bodies import BadRequest, submit_keywords

FLAGGED = [f for f in settings(JobSettings) if f.flag]


def test_every_field_of_a_job_record_is_declared() -> None:
    undeclared = [f.name for f in dataclasses.fields(JobRecord) if META not in f.metadata]
    assert undeclared == []


def test_every_stored_field_is_a_column_of_a_new_queue(queue: jobmagics.Queue) -> None:
    with sqlite3.connect(queue.layout.db) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    assert set(stored_columns(JobRecord)) <= columns


def example_values(parent: str | None = None) -> dict[str, Any]:
    """Every setting's declared example, by keyword (``after`` names a real job)."""
    values = {f.keyword: f.declared.example for f in settings(JobSettings)}
    if parent is not None:
        values["after"] = [parent]
    return values


def known_gpu(queue: jobmagics.Queue) -> None:
    """A worker once served "gpu", so the queue knows that resource."""
    now = time.time()
    queue.store.register_worker(WorkerRecord(
        id="w", host="h", pid=1, pid_started=0.0, user="u", started_at=now, heartbeat_at=now,
        slots=1, memory=None, resources={"gpu": 1}, only_user=None, state="running"))


def test_every_setting_declares_an_example_other_than_its_default() -> None:
    plain = [f.name for f in settings(JobSettings) if f.declared.example in (None, f.default)]
    assert plain == []


def test_every_setting_is_a_submit_keyword_and_lands_in_the_record(queue: jobmagics.Queue) -> None:
    known_gpu(queue)
    parent = queue.submit(["true"]).id
    values = example_values(parent)
    record = queue.submit(["true"], **values).record
    for f in settings(JobSettings):
        assert getattr(record, f.name) == f.check(values[f.keyword]), f.name


def flags_of(values: dict[str, Any]) -> list[str]:
    """The command-line form of the examples, as a user would type them."""
    argv: list[str] = []
    for f in FLAGGED:
        value = values[f.keyword]
        if is_flag_only(f):
            argv += [f.flag] if value else []
        elif is_mapping(f):
            argv += [a for k, v in value.items() for a in (f.flag, f"{k}={v}")]
        elif is_list(f):
            argv += [a for item in value for a in (f.flag, str(item))]
        else:
            argv += [f.flag, str(value)]
    return argv


def test_the_cli_and_the_magic_read_every_flag_as_the_api_takes_it(tmp_path: Path) -> None:
    from jobmagics.cli.commands import _submission
    values = example_values()
    cli = _submission(build_parser().parse_args(["submit", *flags_of(values), "--", "true"]))
    magic = from_arguments(JobSettings, PARSERS["submit"].parser.parse_args(flags_of(values)))
    for f in FLAGGED:
        expected = f.check(values[f.keyword])
        assert f.check(cli[f.keyword]) == expected, f.name
        assert f.check(magic[f.keyword]) == expected, f.name
    assert cli["command"] == ["true"]


def wrong_type(f: JobField) -> Any:
    """A JSON value of the wrong type for the setting."""
    if is_flag_only(f):
        return 1
    if is_list(f) or is_mapping(f) or f.declared.json or f.declared.accepts:
        return 1.5 if is_list(f) or is_mapping(f) or f.declared.json else [1]
    return [1]


def test_a_rest_body_takes_every_setting_and_refuses_each_of_the_wrong_type(tmp_path: Path) -> None:
    body = {"code": "1", **example_values(), "cwd": ""}
    submit_keywords(body, tmp_path)
    for f in settings(JobSettings):
        with pytest.raises(BadRequest, match=f.keyword):
            submit_keywords({**body, f.keyword: wrong_type(f)}, tmp_path)


def test_options_are_declared_and_an_unknown_one_is_refused() -> None:
    assert JobOptions.of({"pull": ["a"]}).pull == ["a"]
    with pytest.raises(InvalidJob, match="unknown option 'pul'"):
        JobOptions.of({"pul": ["a"]})
    with pytest.raises(InvalidJob, match="option capture must be true or false"):
        JobOptions.of({"capture": "yes"})


def test_options_written_by_hand_still_read_without_what_is_not_declared() -> None:
    assert JobOptions.stored({"pull": ["x"], "color": "red", "capture": "yes"}) == JobOptions(pull=["x"])
    assert JobOptions.stored("not a mapping") == JobOptions()


def test_a_new_attempt_resets_exactly_the_per_attempt_fields() -> None:
    reset = per_attempt(JobRecord)
    assert {"started_at", "finished_at", "exit_code", "error", "worker", "pid", "progress", "stage",
            "cancel_requested", "backend_id"} <= set(reset)
    assert not {"id", "user", "attempt", "submitted_at", "priority", "state"} & set(reset)


def test_the_job_json_leaves_out_only_the_environment(queue: jobmagics.Queue) -> None:
    data = queue.submit(["true"], env={"SECRET": "x"}).record.to_dict()
    public = {f.name for f in declared_fields(JobRecord) if f.public}
    assert set(data) == public
    assert "env" not in data
