"""What travels over a system queue's socket: length-prefixed JSON, both ways.

A request is ``{"op": NAME, "args": [...], "kwargs": {...}}``; an answer is ``{"ok": VALUE}``
or ``{"error": [ERROR CLASS NAME, MESSAGE]}``. JSON, never pickle: the service, which runs as
root, reads nothing that could run code. Bytes (payloads, results) travel as base64; job and
worker records as their fields."""
from __future__ import annotations

import base64
import dataclasses
import json
import socket
import struct
from dataclasses import asdict
from typing import Any

from .. import errors
from ..arrays import ArrayRecord, ArraySpec
from ..errors import InvalidJob
from ..fields import declared_fields
from ..model import JobOptions, JobRecord, JobSettings, JobSpec, State, WorkerRecord

HEADER = struct.Struct("!I")
MAX_MESSAGE = 256 << 20          # a request or answer larger than this is refused
_BYTES = "$bytes"
# the operations that change nothing: a client asks again on a new connection when the old one
# broke (a service restarted); a write may have been done before the break, and is never resent
READS = frozenset({"get", "find", "count", "active", "active_counts", "state_counts", "events",
                   "notifications", "queue_settings",
                   "workers", "resources", "setting", "payload", "result", "pid_of",
                   "data_version", "change_version", "change_versions", "whoami", "array",
                   "is_array", "elements", "arrays", "du",
                   "schedule", "schedules", "schedule_runs", "next_schedule_due",
                   "dashboard_lines"})

# how far the queue moved: answered by the service itself, to anyone (no job is named)
VERSIONS = frozenset({"data_version", "change_version", "change_versions"})


class ConnectionClosed(EOFError):
    """The other end closed the connection (between messages, or in the middle of one)."""


def send(sock: socket.socket, message: Any) -> None:
    body = _ENCODER.encode(message).encode()
    if len(body) > MAX_MESSAGE:
        raise errors.InvalidJob(f"a message of {len(body)} bytes is larger than the service takes")
    sock.sendall(HEADER.pack(len(body)) + body)


def receive(sock: socket.socket) -> Any:
    (size,) = HEADER.unpack(_read_exactly(sock, HEADER.size))
    if size > MAX_MESSAGE:
        raise errors.InvalidJob(f"a message of {size} bytes is larger than the service takes")
    return _DECODER.decode(_read_exactly(sock, size).decode())


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks, missing = [], size
    while missing:
        chunk = sock.recv(min(missing, 1 << 20))
        if not chunk:
            raise ConnectionClosed("the connection was closed")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def _encode(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {_BYTES: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, State):
        return value.value
    if isinstance(value, JobOptions):
        return value.to_json()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} does not travel to the service")


def _decode(data: dict[str, Any]) -> Any:
    if len(data) == 1 and _BYTES in data:
        return base64.b64decode(data[_BYTES])
    return data


# made once: json.dumps/loads given options build a new encoder or decoder for every message
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_encode)
_DECODER = json.JSONDecoder(object_hook=_decode)


# ---- records ------------------------------------------------------------------------------
_RECORD_FIELDS = tuple(f.name for f in declared_fields(JobRecord))
_SPEC_FIELDS = tuple(f.name for f in declared_fields(JobSettings))


def record_to_wire(record: JobRecord) -> list[Any]:
    """A record as the list of its field values, in declaration order (smaller than a dict)."""
    values = [getattr(record, name) for name in _RECORD_FIELDS]
    return [_encode(v) if isinstance(v, (State, JobOptions)) else v for v in values]


def record_from_wire(values: list[Any]) -> JobRecord:
    data = dict(zip(_RECORD_FIELDS, values, strict=True))
    data["state"] = State(data["state"])
    data["options"] = JobOptions.stored(data["options"])
    return JobRecord(**data)


def spec_to_wire(spec: JobSpec) -> dict[str, Any]:
    return {name: getattr(spec, name) for name in _SPEC_FIELDS} | {"payload": spec.payload}


def spec_from_wire(data: Any) -> JobSpec:
    """A submission as the caller sent it: only declared fields; checked by ``validate()``."""
    if not isinstance(data, dict):
        raise errors.InvalidJob("a submission must be a mapping of its fields")
    unknown = sorted(set(data) - {*_SPEC_FIELDS, "payload"})
    if unknown:
        raise errors.InvalidJob(f"unknown field {unknown[0]!r} in a submission")
    if "kind" not in data:
        raise errors.InvalidJob("a submission must say its kind")
    if data.get("payload") is not None and not isinstance(data["payload"], bytes):
        raise errors.InvalidJob("a submission's payload must be bytes")
    fields = dict(data)
    fields["options"] = JobOptions.of(fields.get("options"))
    try:
        return JobSpec(**fields)
    except TypeError as exc:
        raise errors.InvalidJob(f"malformed submission: {exc}") from None


def worker_to_wire(worker: WorkerRecord) -> dict[str, Any]:
    return asdict(worker)


def worker_from_wire(data: dict[str, Any]) -> WorkerRecord:
    return WorkerRecord(**data)


# ---- errors -------------------------------------------------------------------------------
def error_to_wire(exc: errors.JobmagicsError) -> list[str]:
    return [type(exc).__name__, str(exc)]


def error_from_wire(answer: Any) -> errors.JobmagicsError:
    """The service's error as the exception the direct store would have raised."""
    try:
        name, message = answer
    except (TypeError, ValueError):
        return errors.QueueError(f"the service answered with a malformed error: {answer!r}")
    cls = getattr(errors, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, errors.JobmagicsError)):
        cls = errors.QueueError
    exc = cls.__new__(cls)
    Exception.__init__(exc, str(message))
    return exc


# ---- arrays -----------------------------------------------------------------------------
def array_spec_to_wire(array: ArraySpec | None) -> dict[str, Any] | None:
    return None if array is None else dataclasses.asdict(array)


def array_spec_from_wire(data: object) -> ArraySpec | None:
    """An array spec as a client sent it: exactly its fields, checked when inserted."""
    if data is None:
        return None
    names = {f.name for f in dataclasses.fields(ArraySpec)}
    if not isinstance(data, dict) or set(data) - names or "indexes" not in data:
        raise InvalidJob(f"an array is sent as {{{', '.join(sorted(names))}}}")
    if not isinstance(data["indexes"], list) or \
            not isinstance(data.get("extend"), (str, type(None))):
        raise InvalidJob("an array's indexes are a list, its extend an array id")
    return ArraySpec(**data)


def array_to_wire(record: ArrayRecord) -> dict[str, Any]:
    return dataclasses.asdict(record)


def array_from_wire(data: dict[str, Any]) -> ArrayRecord:
    return ArrayRecord(**data)
