"""What a runner on a batch system's compute node uses instead of the queue's database.

The worker (``executors.batch_files``) writes the job's input beside its batch script: the
job's record and its payload (a function's pickle, a python job's pushed variables). The runner
writes the job's result there as a file, which the worker ingests. ``queue_for`` gives a runner
this stand-in when ``JOBMAGICS_REPORT_DIR`` is set, else the queue itself: the runners call
``queue.store.get/payload/save_result`` either way."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobmagics.context import (
    ATTEMPT_VAR,
    REPORT_DIR_VAR,
    pack_report,
    report_path,
    unpack_report,
    write_report,
)
from jobmagics.errors import QueueError
from jobmagics.model import JobRecord

if TYPE_CHECKING:
    from jobmagics.client import Queue


class FileStore:
    """The three store operations a runner needs, through files in ``folder``."""

    def __init__(self, folder: Path, job_id: str, attempt: str) -> None:
        self.folder = folder
        self.job_id = job_id
        self.attempt = attempt
        self._input: tuple[dict[str, Any], bytes] | None = None

    def _read_input(self, job_id: str) -> tuple[dict[str, Any], bytes]:
        if job_id != self.job_id:
            raise QueueError(f"this compute node runs {self.job_id}, not {job_id}")
        if self._input is None:
            path = report_path(self.folder, job_id, self.attempt, "input")
            try:
                self._input = unpack_report(path.read_bytes())
            except (OSError, ValueError) as exc:
                raise QueueError(f"cannot read the job's input {path}: {exc}") from None
        return self._input

    def get(self, job_id: str) -> JobRecord:
        from jobmagics.service.protocol import record_from_wire
        header, _ = self._read_input(job_id)
        return record_from_wire(header["record"])

    def payload(self, job_id: str) -> bytes | None:
        header, blob = self._read_input(job_id)
        return blob if header.get("payload") else None

    def save_result(self, job_id: str, ok: bool, blob: bytes, error: str | None = None) -> None:
        write_report(report_path(self.folder, job_id, self.attempt, "result"),
                     pack_report({"ok": ok, "error": error}, blob))

    def __getattr__(self, name: str) -> Any:
        raise QueueError(f"{name} is not available to a job on a batch system: it never opens"
                         " the queue's database")


class FileQueue:
    """The ``Queue`` a runner on a compute node hands around: ``path`` and ``store``."""

    def __init__(self, path: str, store: FileStore) -> None:
        self.path = Path(path)
        self.store = store


def queue_for(queue_path: str, job_id: str) -> Queue | FileQueue:
    """The files of a batch system's job (``JOBMAGICS_REPORT_DIR`` set), else the queue."""
    folder = os.environ.get(REPORT_DIR_VAR)
    if folder:
        return FileQueue(queue_path, FileStore(Path(folder), job_id,
                                               os.environ.get(ATTEMPT_VAR, "1")))
    from jobmagics.client import Queue
    return Queue(queue_path)
