"""The files a batch system's job and the worker exchange instead of the queue's database.

A job on a compute node must not open the queue's SQLite database (it would over the shared
filesystem, which SQLite does not support safely). Before submitting, the worker writes each
runner's input (the job's record and payload) into the batch folder's ``reports/``; the job
writes its progress, result (and, on PBS, its exit status) there, each file written whole and
renamed into place (``jobmagics.context.write_report``); the worker reads them into the
database and removes them (``Inbox``).

In a system queue (jobs run as their owners) the folder is root's, mode 1733: every owner may
create files in it, none may list it or remove another's, and the worker takes a file only from
the job's owner (or itself): nobody can slip a result into someone else's job."""
from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from jobmagics.context import pack_report, report_path, unpack_report, write_report
from jobmagics.model import JobRecord
from jobmagics.service.protocol import record_to_wire

from ..identity import Identity, remove_squatters

log = logging.getLogger("kernel_worker.batch")
WHATS = ("input", "progress", "result", "exit")
_TAKING = ".taking"


def report_folder(root: Path, as_owners: bool) -> Path:
    """``root/reports``, made when missing (``as_owners``: writable by every job's owner)."""
    folder = root / "reports"
    if not folder.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
    if as_owners and stat.S_IMODE(folder.stat().st_mode) != 0o1733:
        os.chmod(folder, 0o1733)
    return folder


def write_input(folder: Path, job: JobRecord, payload: bytes | None,
                owner: Identity | None) -> Path:
    """What the job's runner reads instead of the database: its record and payload."""
    path = report_path(folder, job.id, job.attempt, "input")
    if owner is not None:
        remove_squatters([report_path(folder, job.id, job.attempt, what) for what in WHATS],
                         owner)
    write_report(path, pack_report({"record": record_to_wire(job),
                                    "payload": payload is not None}, payload or b""))
    if owner is not None:
        owner.own(path, 0o600)
    return path


@dataclass(frozen=True)
class Result:
    """A job's result as its runner reported it: what ``Store.save_result`` stores."""

    ok: bool
    blob: bytes
    error: str | None


@dataclass(frozen=True)
class Progress:
    job_id: str
    progress: float | None
    stage: str | None


class Inbox:
    """Reads (and removes) what the jobs wrote in ``folder``; takes a file only from the
    account it expects (the job's owner's uid, or the worker's own)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _read(self, path: Path, uid: int | None) -> bytes | None:
        """The file's bytes, moved aside first (a newer report the job writes meanwhile gets
        the name again); None if there is none, or it is not a file of ``uid``."""
        try:
            info = path.lstat()
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode) or info.st_uid not in (os.geteuid(), uid):
            log.warning("ignoring %s: not a file of the job's owner", path)
            with contextlib.suppress(OSError):
                path.unlink()
            return None
        taking = path.with_name(path.name + _TAKING)
        try:
            os.replace(path, taking)
            data = taking.read_bytes()
        except OSError:
            return None
        with contextlib.suppress(OSError):
            taking.unlink()
        return data

    def progress(self, live: dict[tuple[str, str], int | None]) -> Iterator[Progress]:
        """The progress files of the attempts in ``live`` ((job id, attempt) -> owner uid)."""
        try:
            names = [entry.name for entry in os.scandir(self.folder)]
        except OSError:
            return
        for name in names:
            job_id, attempt, what = _parts(name)
            if what == "progress" and (job_id, attempt) in live:
                report = self.progress_of(job_id, attempt, live[(job_id, attempt)])
                if report is not None:
                    yield report

    def progress_of(self, job_id: str, attempt: str, uid: int | None) -> Progress | None:
        data = self._read(report_path(self.folder, job_id, attempt, "progress"), uid)
        if data is None:
            return None
        try:
            header, _ = unpack_report(data)
            fraction = header.get("progress")
            stage = header.get("stage")
            return Progress(job_id, None if fraction is None else float(fraction),
                            None if stage is None else str(stage))
        except (ValueError, TypeError):
            return None

    def result(self, job_id: str, attempt: str, uid: int | None) -> Result | None:
        data = self._read(report_path(self.folder, job_id, attempt, "result"), uid)
        if data is None:
            return None
        try:
            header, blob = unpack_report(data)
            error = header.get("error")
            return Result(bool(header["ok"]), blob, None if error is None else str(error))
        except (ValueError, KeyError):
            return Result(False, b"", "its result file was not readable")

    def exit_code(self, job_id: str, attempt: str, uid: int | None) -> int | None:
        """The exit status the batch script wrote (PBS: qstat does not keep it)."""
        data = self._read(report_path(self.folder, job_id, attempt, "exit"), uid)
        try:
            return None if data is None else int(data.split()[0])
        except (ValueError, IndexError):
            return None

    def clear(self, job_id: str, attempt: str) -> None:
        """Remove whatever is left of one attempt (its input, a late report)."""
        for what in WHATS:
            with contextlib.suppress(OSError):
                report_path(self.folder, job_id, attempt, what).unlink()


def _parts(name: str) -> tuple[str, str, str]:
    """``JOB-20261129-00042_7.1.progress`` -> its job id, attempt and what it is."""
    head, _, what = name.rpartition(".")
    job_id, _, attempt = head.rpartition(".")
    return job_id, attempt, what
