"""The one declaration of a job's fields, and what is derived from it.

A job's fields are the dataclass fields of ``model.JobSettings`` (what a user sets when
submitting), ``model.JobOptions`` (declared extras of some kinds) and ``model.JobRecord`` (what
the queue records as the job runs). Each carries its declaration in its metadata: a
``Setting`` or a ``Recorded``. From them come ``Queue.submit``'s keywords and checks, the CLI's
and the magic's flags, the REST submit body's checks, the one-job JSON, the stored columns,
the columns a new attempt resets and the TypeScript types (``jobmagics.typescript``).

Adding a user-settable field: one entry in ``JobSettings`` (with an ``example``, which the
tests send through every door) plus one schema migration; then regenerate the TypeScript
(``python -m jobmagics.typescript``; a test says when it is stale).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass
from typing import Any

from .errors import InvalidJob

META = "jobmagics"


@dataclass(eq=False)       # read-only by convention; frozen ones cost ~1 ms more to define
class Setting:
    """A field users set at submission."""

    help: str
    check: Callable[[Any], Any] | None = None   # the value as stored, or raises InvalidJob
    keyword: str = ""            # its name in Queue.submit, REST and the flag, if not the field's
    flag: str | None = ""        # the CLI/magic flag: "" derives it from the keyword, None: no flag
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    body: bool = False           # part of a kind's body (command, code, ...): the kind registry's
    public: bool = True          # in the JSON of a job anyone may read (env may hold secrets)
    owner_only: bool = False     # read only by its owner and the admins (a system queue hides it)
    json: bool = False           # stored as JSON text
    accepts: str = ""            # what a submitter may send, when wider than what is stored
    example: Any = None          # a value a user would give (tests send it through every door)
    editable: bool = False       # may change while the job waits (``jobmagics set``, q.update)


@dataclass(eq=False)       # read-only by convention; frozen ones cost ~1 ms more to define
class Recorded:
    """A field the queue sets as the job goes through its life."""

    help: str
    per_attempt: bool = False    # a new attempt starts with it reset (to its default)
    stored: bool = True          # a column of the jobs table (else computed when read)
    json: bool = False
    public: bool = True


def setting(default: Any, help: str, **declaration: Any) -> Any:
    """A dataclass field declared as a ``Setting``."""
    meta = {META: Setting(help, **declaration)}
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        factory = (lambda: type(default)(default)) if isinstance(default, (list, dict)) \
            else type(default)
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def recorded(help: str, default: Any = MISSING, **declaration: Any) -> Any:
    """A dataclass field declared as ``Recorded``."""
    return dataclasses.field(default=default, metadata={META: Recorded(help, **declaration)})


@dataclass(eq=False)       # read-only by convention; frozen ones cost ~1 ms more to define
class JobField:
    """One declared field: its name, Python type and declaration."""

    name: str
    hint: Any
    default: Any
    declared: Setting | Recorded

    @property
    def keyword(self) -> str:
        return (isinstance(self.declared, Setting) and self.declared.keyword) or self.name

    @property
    def flag(self) -> str | None:
        if not isinstance(self.declared, Setting) or self.declared.flag is None:
            return None
        return self.declared.flag or "--" + self.keyword.replace("_", "-")

    @property
    def public(self) -> bool:
        return self.declared.public

    @property
    def owner_only(self) -> bool:
        return isinstance(self.declared, Setting) and self.declared.owner_only

    @property
    def stored(self) -> bool:
        return not isinstance(self.declared, Recorded) or self.declared.stored

    @property
    def json(self) -> bool:
        return self.declared.json

    def check(self, value: Any) -> Any:
        checker = self.declared.check if isinstance(self.declared, Setting) else None
        if checker is None:
            return check_type(self.keyword, self.hint, value)
        return checker(value)


_DECLARED: dict[type, tuple[JobField, ...]] = {}
_SETTINGS: dict[type, tuple[JobField, ...]] = {}
_BY_KEYWORD: dict[type, dict[str, JobField]] = {}


def declared_fields(cls: type) -> tuple[JobField, ...]:
    """Every declared field of a dataclass, in declaration order (read once per class:
    reading the type hints costs far more than a submission)."""
    found = _DECLARED.get(cls)
    if found is None:
        found = _DECLARED[cls] = _read_declared(cls)
    return found


def _read_declared(cls: type) -> tuple[JobField, ...]:
    hints = typing.get_type_hints(cls)
    found = []
    for item in dataclasses.fields(cls):
        declared = item.metadata.get(META)
        if declared is None:
            continue
        default = item.default if item.default is not MISSING else (
            item.default_factory() if item.default_factory is not MISSING else MISSING)
        found.append(JobField(item.name, hints[item.name], default, declared))
    return tuple(found)


def by_keyword(cls: type) -> dict[str, JobField]:
    """The settings of ``cls`` by the keyword users give them with."""
    found = _BY_KEYWORD.get(cls)
    if found is None:
        found = _BY_KEYWORD[cls] = {f.keyword: f for f in settings(cls)}
    return found


def settings(cls: type) -> tuple[JobField, ...]:
    """The fields of ``cls`` users set by keyword (a kind's body is the kind registry's)."""
    found = _SETTINGS.get(cls)
    if found is None:
        found = _SETTINGS[cls] = tuple(f for f in declared_fields(cls) if isinstance(
            f.declared, Setting) and not f.declared.body)
    return found


def editable(cls: type) -> dict[str, JobField]:
    """The settings of ``cls`` a user may change while the job has not started, by keyword."""
    return {f.keyword: f for f in settings(cls)
            if isinstance(f.declared, Setting) and f.declared.editable}


def per_attempt(cls: type) -> dict[str, Any]:
    """Stored column -> the value a new attempt starts with."""
    return {f.name: f.default for f in declared_fields(cls)
            if isinstance(f.declared, Recorded) and f.declared.per_attempt}


def stored_columns(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in declared_fields(cls) if f.stored)


# ---- types ----------------------------------------------------------------------------
_ORIGINS: dict[Any, Any] = {}


def check_type(name: str, hint: Any, value: Any) -> Any:
    """``value`` if it is of the (simple) type ``hint``: text, whole or real numbers, yes/no,
    lists of text, mappings of text to text, or None where the hint allows it."""
    if value is None:
        if _optional(hint):
            return None
        raise InvalidJob(f"{name} must not be null")
    origin = _ORIGINS.get(hint)
    if origin is None:            # typing's introspection is slow: once per hint
        base = _strip_none(hint)
        origin = _ORIGINS[hint] = typing.get_origin(base) or base
    if origin is bool:
        ok = isinstance(value, bool)
    elif origin is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif origin is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif origin is str:
        ok = isinstance(value, str)
    elif origin is list:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif origin is dict:
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    else:
        return value
    if not ok:
        raise InvalidJob(f"{name} must be {describe_type(hint)}, not {value!r:.80}")
    return value


def describe_type(hint: Any) -> str:
    base = _strip_none(hint)
    origin = typing.get_origin(base) or base
    words = {bool: "true or false", int: "a whole number", float: "a number", str: "text",
             list: "a list of text", dict: "a mapping of names to text"}
    return words.get(origin, getattr(origin, "__name__", str(origin)))


def _optional(hint: Any) -> bool:
    return type(None) in typing.get_args(hint) and _is_union(hint)


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _strip_none(hint: Any) -> Any:
    if not _is_union(hint):
        return hint
    rest = [a for a in typing.get_args(hint) if a is not type(None)]
    return rest[0] if len(rest) == 1 else hint


def is_list(field: JobField) -> bool:
    return (typing.get_origin(_strip_none(field.hint)) or field.hint) is list


def is_mapping(field: JobField) -> bool:
    return (typing.get_origin(_strip_none(field.hint)) or field.hint) is dict


def is_flag_only(field: JobField) -> bool:
    return _strip_none(field.hint) is bool


# ---- command lines (the CLI and the magic) --------------------------------------------
def flag_arguments(cls: type) -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """``(flags, keywords)`` for argparse's ``add_argument`` (and IPython's ``argument``), one
    per setting with a flag. Every default is None: a flag not given leaves the queue's
    default, which the help names."""
    arguments: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    for f in settings(cls):
        if f.flag is None:
            continue
        declared = f.declared
        assert isinstance(declared, Setting)
        kwargs: dict[str, Any] = {"help": _flag_help(f), "dest": f.keyword, "default": None}
        if is_flag_only(f):
            kwargs["action"] = "store_const"
            kwargs["const"] = True
        else:
            if declared.choices:
                kwargs["choices"] = list(declared.choices)     # argparse shows {a,b}
            else:
                kwargs["metavar"] = declared.metavar or f.keyword.upper()
            if is_list(f) or is_mapping(f):
                kwargs["action"] = "append"
        arguments.append(((f.flag,), kwargs))
    return arguments


def _flag_help(f: JobField) -> str:
    text = f.declared.help
    if is_list(f):
        text += "; repeatable, or a,b"
    elif is_mapping(f):
        text += "; repeatable"
    elif not (f.default is None or f.default is MISSING or isinstance(f.default, bool)
              or f.default in ("", ".")):
        text += f" (default {f.default})"
    return text


def from_arguments(cls: type, namespace: object) -> dict[str, Any]:
    """``Queue.submit`` keywords of the flags that were given (parsed as flag_arguments made
    them): lists split at commas, mappings read from NAME=VALUE."""
    given: dict[str, Any] = {}
    for f in settings(cls):
        value = getattr(namespace, f.keyword, None)
        if f.flag is None or value is None:
            continue
        if is_list(f):
            value = comma_list(value)
        elif is_mapping(f):
            value = dict(_name_value(f.flag, item) for item in value)
        given[f.keyword] = value
    return given


def comma_list(items: Iterable[object]) -> list[str]:
    """What a command line gives as ``--flag a,b --flag c``: ``["a", "b", "c"]``."""
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def _name_value(flag: str, item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise InvalidJob(f"{flag} {item!r}: write it as NAME=VALUE")
    return key, value


# ---- REST -----------------------------------------------------------------------------
def check_submission(cls: type, body: Mapping[str, Any], extra: Sequence[str] = ()) -> None:
    """Refuse an unknown key or a value of the wrong JSON type in a submit body (the values
    themselves are checked, as from any client, by ``JobSpec.validate``)."""
    known = by_keyword(cls)
    unknown = sorted(set(body) - set(known) - set(extra))
    if unknown:
        allowed = ", ".join(sorted([*known, *extra]))
        raise InvalidJob(f"unknown field {unknown[0]!r} (allowed: {allowed})")
    for key, value in body.items():
        f = known.get(key)
        if f is None or value is None:
            continue
        widened = isinstance(f.declared, Setting) and f.declared.accepts
        if widened and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            continue            # e.g. memory: "4G" or a number of bytes
        if f.json and not is_list(f) and not is_mapping(f):
            if not isinstance(value, dict):
                raise InvalidJob(f"{key} must be a JSON object, not {value!r:.80}")
            continue
        check_type(key, f.hint, value)
