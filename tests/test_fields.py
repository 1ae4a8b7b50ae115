"""The one declaration of a job's fields reaches every door: Python, CLI, magics, REST, JSON."""
from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

import jobmagics
from jobmagics.cli.parser import build_parser
from jobmagics.errors import InvalidJob
from jobmagics.fields import META, declared_fields, per_attempt, settings, stored_columns
from jobmagics.magics.parsers import PARSERS
from jobmagics.model import JobOptions, JobRecord, JobSettings
from jobmagics.server.bodies import BadRequest, submission

FLAGGED = [f for f in settings(JobSettings) if f.flag]


def test_every_field_of_a_job_record_is_declared() -> None:
    undeclared = [f.name for f in dataclasses.fields(JobRecord) if META not in f.metadata]
    assert undeclared == []


def test_every_stored_field_is_a_column_of_a_new_queue(queue: jobmagics.Queue) -> None:
    with sqlite3.connect(queue.layout.db) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    assert set(stored_columns(JobRecord)) <= columns


def test_every_setting_is_a_submit_keyword_and_lands_in_the_record(queue: jobmagics.Queue) -> None:
    job = queue.submit(["true"], name="n", priority=3, resources=[], cpus=2, memory="1G",
                       after=[], timeout=60, retries=1, retry_delay=0.5, cwd="/tmp",
                       env={"A": "1"}, hold=True, backend="local", options={"capture": True})
    record = job.record
    given = {"name": "n", "priority": 3, "cpus": 2, "memory": 1 << 30, "timeout": 60.0, "retries": 1,
             "retry_delay": 0.5, "cwd": "/tmp", "env": {"A": "1"}, "held": True,
             "options": JobOptions(capture=True)}
    assert {k: getattr(record, k) for k in given} == given
    assert {f.keyword for f in settings(JobSettings)} <= {*given, "hold", "resources", "after", "backend"}


@pytest.mark.parametrize("field", FLAGGED, ids=lambda f: f.name)
def test_every_flagged_setting_is_a_flag_of_the_cli_and_of_the_magic(field) -> None:
    cli_submit = build_parser()._subparsers._group_actions[0].choices["submit"]  # type: ignore[union-attr]
    cli_flags = {o for a in cli_submit._actions for o in a.option_strings}
    magic_flags = {o for a in PARSERS["submit"].parser._actions for o in a.option_strings}
    assert field.flag in cli_flags
    assert field.flag in magic_flags


def test_the_cli_reads_every_flag_into_the_job(queue: jobmagics.Queue, tmp_path: Path) -> None:
    from jobmagics.cli.commands import _submission
    args = build_parser().parse_args([
        "submit", "--name", "x", "--priority", "4", "--resource", "a,b", "--resource", "c",
        "--cpus", "2", "--memory", "2G", "--timeout", "9", "--retries", "2", "--retry-delay", "3",
        "--cwd", str(tmp_path), "--env", "K=V", "--hold", "--backend", "local", "--", "true"])
    given = _submission(args)
    assert given == {"name": "x", "priority": "4", "resources": ["a", "b", "c"], "cpus": "2",
                     "memory": "2G", "timeout": "9", "retries": "2", "retry_delay": "3",
                     "cwd": str(tmp_path), "env": {"K": "V"}, "hold": True, "backend": "local",
                     "command": ["true"]}


def test_a_rest_body_takes_every_setting_and_refuses_a_wrong_type(tmp_path: Path) -> None:
    body = {"code": "1", "name": "n", "priority": 1, "resources": ["hardware"], "cpus": 1,
            "memory": "4G", "after": [], "timeout": 5, "retries": 0, "retry_delay": 1, "cwd": "",
            "env": {"A": "b"}, "hold": False, "backend": "local", "options": {"pull": ["x"]}}
    assert {f.keyword for f in settings(JobSettings)} <= set(body)
    submission(body, tmp_path)
    for key, wrong in (("priority", "1"), ("hold", 1), ("env", ["A"]), ("options", [1]), ("cpus", True)):
        with pytest.raises(BadRequest, match=key):
            submission({**body, key: wrong}, tmp_path)


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
