"""``submission_text``: a job's ``q.submit(...)`` as Python text, tested by round trip: the
text of a job, run with a ``q`` in scope, queues a job whose every declared setting and body
equals the first one's."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from jobmagics.fields import declared_fields, settings
from jobmagics.model import JobRecord, JobSettings
from jobmagics.submission_text import code_literal, submission_text

BODIES = ("kind", "command", "code", "experiment")
MANY_SETTINGS: dict[str, Any] = {
    "name": "fit 1 'quoted'", "priority": 7, "cpus": 3, "memory": "1536M", "timeout": 90.5,
    "retries": 2, "retry_delay": 0.25, "env": {"ALPHA": "1", "QUOTE": "it's \"x\""},
    "hold": True, "notify": ["email:alice@example.org", "webhook:https://example.org/h"],
    "notify_on": "failure",
}


def resubmitted(q: jobmagics.Queue, job: jobmagics.Job, **scope: Any) -> jobmagics.Job:
    """Run the job's submission text with ``q`` in scope; the job it queued."""
    text = submission_text(job.refresh().last_read)
    ast.parse(text)
    before = {j.id for j in q.jobs(limit=None)}
    exec(compile(text, "<submission>", "exec"), {"q": q, **scope})   # noqa: S102 - the point
    (new,) = [j for j in q.jobs(limit=None) if j.id not in before]
    return new


def declared(record: JobRecord) -> dict[str, Any]:
    """Every setting and body a user gives, by field name."""
    names = [f.name for f in settings(JobSettings)] + list(BODIES)
    return {name: getattr(record, name) for name in names}


def test_every_setting_of_a_python_job_comes_back_from_its_text(queue: jobmagics.Queue,
                                                                tmp_path: Path) -> None:
    parent = queue.submit(["true"], hold=True)
    job = queue.submit(code="import math\nprint(math.pi)\n", cwd=str(tmp_path),
                       after=[parent.id], resources=["hardware"],
                       options={"pull": ["result"]}, **MANY_SETTINGS)
    again = resubmitted(queue, job)
    assert declared(again.last_read) == declared(job.last_read)


def test_a_command_job_comes_back_with_its_arguments_and_options(queue: jobmagics.Queue) -> None:
    job = queue.submit(["sh", "-c", "echo \"$1\" 'two words'", "--", "a\\b"],
                       options={"capture": True, "stdin_b64": "aGk="}, **MANY_SETTINGS)
    again = resubmitted(queue, job)
    assert declared(again.last_read) == declared(job.last_read)
    assert again.last_read.options == job.last_read.options


def test_an_experiment_comes_back_with_its_class_and_config(queue: jobmagics.Queue) -> None:
    config = {"points": 41, "amplitude": 0.4, "stop": 2e-07, "frequency": None, "seed": 3}
    job = queue.submit(experiment="jobmagics.experiments:Rabi", config=config, name="rabi",
                       priority=-3, hold=True)
    text = submission_text(job.last_read)
    assert "experiment='jobmagics.experiments:Rabi'" in text and "'amplitude': 0.4" in text
    again = resubmitted(queue, job)
    assert declared(again.last_read) == declared(job.last_read)


def test_a_function_job_says_it_cannot_be_text_and_gives_the_rest(queue: jobmagics.Queue) -> None:
    job = queue.submit(function=print, args=(1,), name="call", priority=2, hold=True)
    text = submission_text(job.last_read)
    assert text.startswith("# ") and "pickled" in text.splitlines()[0]
    again = resubmitted(queue, job, your_function=print)
    assert again.last_read.kind == "function"
    assert declared(again.last_read) == declared(job.last_read)


def test_a_job_at_its_defaults_is_its_body_and_where_it_ran(queue: jobmagics.Queue) -> None:
    job = queue.submit(["true"])
    text = submission_text(job.last_read)
    assert text == f"q.submit(\n    command=['true'],\n    cwd={job.last_read.cwd!r},\n)\n"


def test_the_environment_is_left_out_when_secrets_are_not_to_be_shown(
        queue: jobmagics.Queue) -> None:
    job = queue.submit(["true"], env={"TOKEN": "s3cret"})
    assert "s3cret" in submission_text(job.last_read)
    assert "s3cret" not in submission_text(job.last_read, secrets=False)


def test_every_setting_of_the_declaration_is_written_when_it_differs(
        queue: jobmagics.Queue) -> None:
    """A setting added to JobSettings reaches the text without a change here: each example
    value (the declaration's own) is written under its keyword."""
    record = queue.submit(["true"]).last_read
    for field in settings(JobSettings):
        example = field.declared.example  # type: ignore[union-attr]
        value = field.check(example)
        if value == field.default:
            continue
        changed = JobRecord(**{f.name: getattr(record, f.name)
                               for f in declared_fields(JobRecord)} | {field.name: value})
        assert f"    {field.keyword}=" in submission_text(changed), field.name


CODES = [
    "print('hi')\n",
    'x = """triple"""\nprint(x)\n',
    "path = 'C:\\\\new\\\\table'\nprint(path)\n",
    "print('ends with a quote')  # \"",
    "s = 'back\\\\'\n",
    "print('naïve ünïcode ✓')\n\tindented = 1\n",
    "'''single triple'''\n",
]


@pytest.mark.parametrize("code", CODES)
def test_code_is_written_as_a_literal_that_reads_back_exactly(code: str) -> None:
    assert ast.literal_eval(code_literal(code)) == code


def test_readable_code_is_written_as_a_triple_quoted_block() -> None:
    assert code_literal("import numpy\nprint(1)\n") == '"""import numpy\nprint(1)\n"""'
