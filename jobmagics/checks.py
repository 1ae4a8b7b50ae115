"""Checks of single values a user gives (no I/O): each returns the value as the queue stores
it, or raises ``InvalidJob`` with a message the user can act on."""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import InvalidJob

# A job, an array (the same form) or an array's element: the array's id, "_", its index.
JOB_ID_RE = re.compile(r"^JOB-\d{8}-\d{5,}(?:_\d{1,9})?$")
RESOURCE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
MAX_NAME = 200
MAX_PRIORITY = 10**9
MAX_MEMORY = 1 << 60


def format_job_id(day: str, number: int) -> str:
    return f"JOB-{day}-{number:05d}"


def check_job_id(job_id: object) -> str:
    if not isinstance(job_id, str) or not JOB_ID_RE.match(job_id):
        raise InvalidJob(f"{job_id!r} is not a job id (they look like JOB-20261121-00001)")
    return job_id


def parse_memory(value: str | float | None) -> int | None:
    """'4G', '512M', '1.5GiB', 2048 (bytes) -> bytes. None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidJob(f"memory must be a size like '4G', not {value!r}")
    if isinstance(value, (int, float)):
        if not 0 < value <= MAX_MEMORY:     # also NaN; the database holds 64-bit integers
            raise InvalidJob(f"memory must be between 1 byte and 1 EiB, not {value!r}")
        return int(value)
    match = _MEMORY_RE.match(str(value))
    if not match:
        raise InvalidJob(f"cannot read memory size {value!r}; write it like 512M, 4G or 1.5GiB")
    number, unit = float(match.group(1)), match.group(2).lower()
    size = int(number * _UNITS[unit])
    if not 0 < size <= MAX_MEMORY:
        raise InvalidJob(f"memory must be between 1 byte and 1 EiB, not {value!r}")
    return size


def format_memory(size: int | None) -> str:
    if size is None:
        return "-"
    for unit in ("P", "T", "G", "M", "K"):
        scale = _UNITS[unit.lower()]
        if size >= scale:
            amount = size / scale
            return f"{amount:.0f}{unit}" if amount == int(amount) else f"{amount:.1f}{unit}"
    return f"{size}B"


UNIT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_UNITS = 4096           # units of one resource a worker declares


def _resource_name(name: str) -> str:
    name = name.strip()
    if not RESOURCE_RE.match(name):
        raise InvalidJob(
            f"bad resource name {name!r}: use letters, digits, '_', '-', '.',"
            " starting with a letter")
    return name


def parse_resource(spec: str) -> tuple[str, int]:
    """A worker's declaration as (name, how many units): 'hardware' -> ('hardware', 1);
    'gpu=2' -> ('gpu', 2); 'gpu=0,2,5' -> ('gpu', 3)."""
    name, units = parse_resource_units(spec)
    return name, len(units)


def parse_resource_units(spec: str) -> tuple[str, list[str]]:
    """A worker's declaration as (name, its named units): 'hardware' -> one unit '0';
    'gpu=4' -> units '0' to '3'; 'gpu=0,2' or 'qick=boardA,boardB' -> those units (a single
    named unit: 'gpu=3,')."""
    name, _, given = spec.partition("=")
    name = _resource_name(name)
    given = given.strip()
    if not given:
        return name, ["0"]
    if "," not in given:
        if not given.isdigit():
            raise InvalidJob(f"resource units in {spec!r}: give a number of units ({name}=4:"
                             f" units 0-3) or a list of their names ({name}=0,2; one: {name}=a,)")
        count = int(given)
        if not 1 <= count <= MAX_UNITS:
            raise InvalidJob(f"resource units in {spec!r} must be between 1 and {MAX_UNITS}")
        return name, [str(i) for i in range(count)]
    units = [u.strip() for u in given.split(",")]
    if units[-1] == "":                  # 'gpu=3,': the one unit named 3
        units.pop()
    bad = [u for u in units if UNIT_RE.match(u) is None]
    if bad or not units:
        raise InvalidJob(f"bad unit {bad[0] if bad else ''!r} in {spec!r}: units are names of"
                         " letters, digits, '_', '-', '.', separated by commas")
    twice = sorted({u for u in units if units.count(u) > 1})
    if twice:
        raise InvalidJob(f"unit {twice[0]!r} is named twice in {spec!r}")
    if len(units) > MAX_UNITS:
        raise InvalidJob(f"at most {MAX_UNITS} units of one resource, not {len(units)}")
    return name, units


def parse_resource_request(spec: str) -> tuple[str, int]:
    """What a job asks for: 'gpu' -> ('gpu', 1); 'gpu:2' -> ('gpu', 2) (two units of it)."""
    name, colon, count = spec.partition(":")
    name = _resource_name(name)
    if not colon:
        return name, 1
    try:
        units = int(count)
    except ValueError:
        raise InvalidJob(f"the number of units in {spec!r} must be a whole number, as in"
                         f" {name}:2") from None
    if not 1 <= units <= MAX_UNITS:
        raise InvalidJob(f"the number of units in {spec!r} must be between 1 and {MAX_UNITS}")
    return name, units


def resource_counts(resources: Iterable[str]) -> dict[str, int]:
    """A job's ``resources`` ('gpu:2', 'hardware') as {name: units}; also the plain names of
    queues written before units existed."""
    counts: dict[str, int] = {}
    for item in resources:
        name, _, count = item.partition(":")
        counts[name] = int(count) if count else 1
    return counts


def resource_request_text(name: str, count: int) -> str:
    """The stored form of a request: 'gpu' for one unit, 'gpu:2' for two."""
    return name if count == 1 else f"{name}:{count}"


def check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            value = int(str(value).strip())
        except (TypeError, ValueError):
            raise InvalidJob(f"{name} must be a whole number, not {value!r}") from None
    if not low <= value <= high:
        raise InvalidJob(f"{name} must be between {low} and {high}, not {value}")
    return value


def check_text(name: str, value: object, limit: int = MAX_NAME, os_string: bool = False) -> str:
    """``value`` if it is text the queue can store: no NUL, at most ``limit`` characters, and
    valid UTF-8. Bytes that are not UTF-8 reach Python from argv or files as lone surrogates
    (``os.fsdecode``); SQLite cannot store them. ``os_string`` values (command arguments,
    which may name files whose names are not UTF-8) are stored as JSON, which keeps such bytes
    exactly, so they pass. Environment values are text a user reads back (``status``, the
    sidebar): they must be UTF-8, as DESIGN's bad-input rule says."""
    if not isinstance(value, str):
        raise InvalidJob(f"{name} must be text, not {type(value).__name__}")
    if "\x00" in value:
        raise InvalidJob(f"{name} must not contain NUL bytes")
    if len(value) > limit:
        raise InvalidJob(f"{name} is longer than {limit} characters")
    try:
        value.encode("utf-8", "surrogateescape" if os_string else "strict")
    except UnicodeEncodeError as exc:
        raise InvalidJob(f"{name} is not UTF-8 text: {_bad_character(value, exc.start)}") from None
    return value


def _bad_character(value: str, index: int) -> str:
    char = ord(value[index])
    if 0xDC80 <= char <= 0xDCFF:      # surrogateescape's stand-in for an undecodable byte
        return f"byte 0x{char - 0xDC00:02x} at character {index}"
    return f"lone surrogate U+{char:04X} at character {index}"


def plain(value: Any) -> Any:
    """``value`` with numpy scalars and arrays (anything with ``tolist``/``item``) as plain
    numbers and lists, mappings (keys as text) and sequences converted throughout; anything
    else as it is."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    for method in ("tolist", "item"):
        if callable(getattr(value, method, None)):
            return getattr(value, method)()
    return value


def plain_json(value: Any, what: str) -> Any:
    """``value`` as strict JSON data (see ``plain``; no NaN, nothing JSON cannot hold)."""
    def refuse(item: Any) -> Any:
        raise TypeError(f"{type(item).__name__} {item!r:.80}")
    try:
        return json.loads(json.dumps(plain(value), default=refuse, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidJob(
            f"the {what} must be JSON data (numbers, text, lists, dicts): {exc}") from None


def check_cell(code: str) -> str:
    """Python jobs are notebook cells: plain Python, or IPython syntax (``%magic``, ``!cmd``)
    that IPython's own input transformer turns into Python."""
    try:
        compile(code, "<job>", "exec")
        return code
    except SyntaxError as exc:
        error = exc
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        compile(TransformerManager().transform_cell(code), "<job>", "exec")
        return code
    except SyntaxError:
        raise InvalidJob(f"the code does not compile: {error.msg} (line {error.lineno})") from None


def check_seconds(name: str, value: object) -> float | None:
    """A positive, finite number of seconds (None stays None)."""
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidJob(f"{name} must be a number of seconds, not {value!r}") from None
    if not (math.isfinite(number) and number > 0):
        raise InvalidJob(f"{name} must be a positive number of seconds, not {value!r}")
    return number


NOTIFY_KINDS = ("email", "webhook")
NOTIFY_ON = ("end", "failure")
_EMAIL_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


def check_notify_target(value: object) -> str:
    """``email:ADDR`` or ``webhook:URL`` (http or https), as given."""
    text = check_text("notify target", value, 2048)
    kind, _, where = text.partition(":")
    if kind == "email" and _EMAIL_RE.match(where):
        return text
    if kind == "webhook" and re.match(r"^https?://[^\s/]+", where):
        return text
    raise InvalidJob(f"notify target {text!r} is not email:ADDRESS or webhook:http(s)://URL")
