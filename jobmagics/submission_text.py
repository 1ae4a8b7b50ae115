"""A job's submission as Python text: the ``q.submit(...)`` call that would queue it again.

Derived from the declared fields (``model.JobSettings``, read through ``fields.settings``):
every setting whose value differs from its default, under the keyword ``Queue.submit`` takes
(``held`` is ``hold=``), and the body by kind (``command=[...]``, ``code=\"\"\"...\"\"\"``,
``experiment="mod:Class", config={...}``). A function job's callable is a pickle that is never
unpickled here: its text says so and leaves the function for the reader to give. Plain data,
no I/O: the JupyterLab job view's "copy as q.submit(...)", and later the CLI and the widget."""
from __future__ import annotations

import ast
import pprint
from typing import Any

from .fields import settings
from .model import JobOptions, JobRecord, JobSettings

INDENT = "    "
WIDTH = 96                       # where pprint wraps a long list or dict
FUNCTION_NAME = "your_function"  # what stands for a function job's pickled callable

__all__ = ["submission_text"]


def submission_text(record: JobRecord, *, secrets: bool = True, queue_name: str = "q") -> str:
    """``q.submit(...)`` with ``record``'s body and every setting not at its default, as
    valid Python (``ast.parse`` accepts it; run with ``q`` in scope it submits the same job).
    ``secrets=False`` leaves the environment out (it may hold secrets: its owner's only)."""
    notes = _notes(record)
    arguments = _body(record) + _settings(record, secrets)
    lines = [f"# {note}" for note in notes]
    lines.append(f"{queue_name}.submit(")
    lines += [f"{INDENT}{keyword}={_literal(keyword, value)}," for keyword, value in arguments]
    lines.append(")")
    return "\n".join(lines) + "\n"


def _notes(record: JobRecord) -> list[str]:
    """What the text cannot say as code, one comment line each."""
    notes = []
    if record.kind == "function":
        notes.append(f"{record.id} is a function job: its callable was pickled and cannot be"
                     " written as text;")
        notes.append(f"define {FUNCTION_NAME} (and give its args=, kwargs=) before running this.")
    if record.kind == "python" and record.code is None:
        notes.append(f"the code of {record.id} is hidden: only its owner or an admin may read it.")
    if record.array_id and record.array_id != record.id:
        notes.append(f"{record.id} is element {record.array_index} of array {record.array_id};"
                     " this submits it as a job of its own.")
    return notes


class _Name(str):
    """A Python name written as is (not as a string literal)."""

    def __repr__(self) -> str:
        return str(self)


def _body(record: JobRecord) -> list[tuple[str, Any]]:
    """The kind's body keyword(s) and value(s)."""
    if record.kind == "command":
        return [("command", list(record.command or []))]
    if record.kind == "python":
        return [("code", record.code if record.code is not None else "")]
    if record.kind == "experiment":
        experiment = record.experiment or {}
        return [("experiment", experiment.get("target")),
                ("config", dict(experiment.get("config") or {}))]
    if record.kind == "function":
        return [("function", _Name(FUNCTION_NAME))]
    return []


def _settings(record: JobRecord, secrets: bool) -> list[tuple[str, Any]]:
    """Every declared setting whose value differs from its default, by its keyword."""
    given = []
    for field in settings(JobSettings):
        value = getattr(record, field.name)
        if field.name == "env" and not secrets:
            continue
        if isinstance(value, JobOptions):
            value = value.to_json()          # only the options that differ from theirs
            if not value:
                continue
        elif value == field.default:
            continue
        given.append((field.keyword, value))
    return given


def _literal(keyword: str, value: Any) -> str:
    """``value`` as a Python literal that reads back equal, continuation lines indented."""
    if isinstance(value, str) and keyword == "code":
        return code_literal(value)
    text = pprint.pformat(value, width=WIDTH - len(INDENT) - len(keyword) - 1,
                          sort_dicts=False)
    return text.replace("\n", "\n" + " " * (len(INDENT) + len(keyword) + 1))


def code_literal(code: str) -> str:
    """A long code string as a triple-quoted literal when that reads back exactly (no
    ``\"\"\"`` inside, no ending quote or backslash that would change it), else its ``repr``."""
    for candidate in (f'"""{code}"""', f'r"""{code}"""'):
        try:
            if ast.literal_eval(candidate) == code:
                return candidate
        except (SyntaxError, ValueError):
            continue
    return repr(code)
