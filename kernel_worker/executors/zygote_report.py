"""What the worker and a job forked by its zygote tell each other without the database.

The worker's order carries the job's payload (when it is small), so the child need not read
it; the child reports the job's result on a pipe of its own, which the worker reads once the
child has exited and records with the end of the attempt, in one transaction. A child that
never opens the database costs the queue no connection, no read and no write of its own. A
result too big for the pipe (which the child must be able to fill without the worker reading)
is stored by the child itself, as before, and the pipe says so; anything else the runner asks
of the queue is answered by the real one, opened on first use."""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobmagics.client import Queue
    from jobmagics.service.remote import RemoteStore
    from jobmagics.store import Store

INLINE_PAYLOAD = 64 * 1024      # a payload up to this size travels with the order
MAX_ORDER = 160 * 1024          # and only in an order below this (a Unix socket's message size)
PIPE_ROOM = 60 * 1024           # a pipe holds 64 KiB: reports up to this never block the child
_HEADER = struct.Struct("!4sBII")   # magic, flags, length of the error text, of the pickle
_MAGIC = b"JMR1"
_OK, _HAS_ERROR, _STORED = 1, 2, 4
_NO_PAYLOAD, _INLINE, _IN_DATABASE = "none", "inline", "database"


# ---- the order --------------------------------------------------------------------------
def make_order(header: dict[str, Any], payload: bytes | None, known: bool) -> bytes:
    """One message: the JSON header, a NUL, then the payload. ``known``: the worker read the
    payload (None: the job has none); else the child reads it from the queue."""
    if known and payload is not None and len(payload) > INLINE_PAYLOAD:
        known, payload = False, None
    where = _IN_DATABASE if not known else (_NO_PAYLOAD if payload is None else _INLINE)
    text = json.dumps({**header, "payload": where}).encode()
    if where != _INLINE:
        return text
    if len(text) + len(payload or b"") >= MAX_ORDER:      # a huge environment: read it there
        return make_order(header, None, known=False)
    return text + b"\0" + (payload or b"")


def split_order(message: bytes) -> tuple[dict[str, Any], bytes | bool | None]:
    """The order's header and its payload: bytes, None (the job has none) or False (the
    child reads it from the queue). JSON never holds a raw NUL, so the first one splits."""
    text, _, rest = message.partition(b"\0")
    order: dict[str, Any] = json.loads(text)
    where = order.get("payload")
    if where == _INLINE:
        return order, rest
    return order, None if where == _NO_PAYLOAD else False


# ---- the report -------------------------------------------------------------------------
@dataclass(frozen=True)
class Report:
    """A job's result as its child reported it: what ``Store.save_result`` would store."""

    ok: bool
    blob: bytes
    error: str | None = None


def encode_report(ok: bool, blob: bytes, error: str | None) -> bytes:
    text = b"" if error is None else error.encode("utf-8", "replace")
    flags = (_OK if ok else 0) | (_HAS_ERROR if error is not None else 0)
    return _HEADER.pack(_MAGIC, flags, len(text), len(blob)) + text + blob


STORED_MARK = _HEADER.pack(_MAGIC, _STORED, 0, 0)


def read_report(descriptor: int) -> tuple[Report | None, bool]:
    """What the pipe holds once the child has exited: its last report (the error of the last
    that gave one), and whether the result went to the database instead. Never blocks."""
    return parse_reports(_read_available(descriptor))


def parse_reports(data: bytes) -> tuple[Report | None, bool]:
    """The last report in ``data`` (see ``read_report``)."""
    report: Report | None = None
    error: str | None = None
    offset = 0
    while offset + _HEADER.size <= len(data):
        magic, flags, error_size, blob_size = _HEADER.unpack_from(data, offset)
        offset += _HEADER.size
        end = offset + error_size + blob_size
        if magic != _MAGIC or end > len(data):
            break                            # scribbled on by the job itself: not a report
        if flags & _STORED:
            return None, True
        if flags & _HAS_ERROR:
            error = data[offset:offset + error_size].decode("utf-8", "replace")
        report = Report(bool(flags & _OK), data[offset + error_size:end], error)
        offset = end
    return report, False


def _read_available(descriptor: int) -> bytes:
    os.set_blocking(descriptor, False)
    chunks = []
    while True:
        try:
            chunk = os.read(descriptor, 1 << 16)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view):]


# ---- the child's side -------------------------------------------------------------------
class ChildStore:
    """The store as a forked child's runner sees it: the payload from the order, the result
    reported on the pipe; anything else from the queue's own store, opened on first use."""

    def __init__(self, queue: ChildQueue, payload: bytes | bool | None,
                 report: int | None) -> None:
        self._queue = queue
        self._payload = payload
        self._report = report
        self._sent = 0
        self._stored = False

    def payload(self, job_id: str) -> bytes | None:
        if self._payload is False:
            return self._real().payload(job_id)
        return self._payload if isinstance(self._payload, bytes) else None

    def save_result(self, job_id: str, ok: bool, blob: bytes, error: str | None = None) -> None:
        frame = encode_report(ok, blob, error)
        room = PIPE_ROOM - len(STORED_MARK)
        if self._report is not None and not self._stored and self._sent + len(frame) <= room:
            _write_all(self._report, frame)
            self._sent += len(frame)
            return
        if self._report is not None and not self._stored:
            _write_all(self._report, STORED_MARK)      # first: the worker then reads the store
            self._stored = True
        self._real().save_result(job_id, ok, blob, error=error)

    def _real(self) -> Store | RemoteStore:
        return self._queue.real().store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)


class ChildQueue:
    """The ``Queue`` a forked child hands its runner (``runner.main(path, job_id, queue)``)."""

    def __init__(self, path: str, queue: Queue | None, payload: bytes | bool | None,
                 report: int | None) -> None:
        self.path_text = path
        self._queue = queue
        self.store = ChildStore(self, payload, report)

    @property
    def path(self) -> Path:
        return Path(self.path_text)

    def real(self) -> Queue:
        """The queue itself (the zygote's, reconnected in this process, or opened now)."""
        if self._queue is None:
            from jobmagics.client import Queue
            self._queue = Queue(self.path_text)
        return self._queue

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)
