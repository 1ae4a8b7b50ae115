"""Inside a running job: ``jobmagics.progress()`` and ``jobmagics.current_job()``, and which job
this process runs (``job_location``): given by the environment of a job's process, or set by
an executor that runs several jobs in one long-lived process (a persistent kernel).

A job that a batch system (SLURM, PBS) runs on a compute node never opens the queue's
database (SQLite over a shared filesystem is not safe): its batch script sets
``JOBMAGICS_REPORT_DIR``, and what the job reports (progress, its result) goes there as
files, each written whole under a temporary name and then renamed (``write_report``); the
worker on the queue's host reads them into the database and removes them."""
from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import progress_bars
from .client import shared_queue
from .errors import InvalidJob, NotInJob

if TYPE_CHECKING:
    from .job import Job

JOB_ID_VAR = "JOBMAGICS_JOB_ID"
ARRAY_ID_VAR = "JOBMAGICS_ARRAY_ID"          # set for an array's elements
ARRAY_INDEX_VAR = "JOBMAGICS_ARRAY_INDEX"
ATTEMPT_VAR = "JOBMAGICS_ATTEMPT"   # with the id, marks every process of one attempt (recovery)
QUEUE_VAR = "JOBMAGICS_QUEUE"
REPORT_DIR_VAR = "JOBMAGICS_REPORT_DIR"     # set on a batch system: report through files there
RESOURCE_VAR_PREFIX = "JOBMAGICS_RESOURCE_"  # + the resource's name: the units the job holds
CUDA_VAR = "CUDA_VISIBLE_DEVICES"            # also set to the units of a resource named gpu
_MIN_INTERVAL_S = 0.1   # progress from a tight loop must not hammer the shared database

_current: dict[str, str] = {}        # set by executors that run jobs in a long-lived process
_throttle: dict[str, object] = {"last_write": 0.0, "stage": None, "fraction": None}


def resource_variable(name: str) -> str:
    """``JOBMAGICS_RESOURCE_GPU`` for ``gpu``, ``JOBMAGICS_RESOURCE_QICK_A`` for ``qick-a``."""
    return RESOURCE_VAR_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def units_environment(units: Mapping[str, Sequence[str]] | None) -> dict[str, str]:
    """The variables that tell a job which units of its resources it holds (gpu 0 and 2:
    ``JOBMAGICS_RESOURCE_GPU=0,2`` and ``CUDA_VISIBLE_DEVICES=0,2``)."""
    variables = {}
    for name, held in (units or {}).items():
        variables[resource_variable(name)] = ",".join(held)
        if name == "gpu":
            variables[CUDA_VAR] = ",".join(held)
    return variables


def enter_job(job_id: str, queue_path: str) -> None:
    """Used by executors that run several jobs in one process (a persistent kernel)."""
    progress_bars.install(progress)          # its tqdm bars report to it
    _current.clear()
    _current.update(job_id=job_id, queue_path=queue_path)
    _throttle.update(last_write=0.0, stage=None, fraction=None)


def leave_job() -> None:
    """The job entered with ``enter_job`` is over: the environment's job (if any) again."""
    _current.clear()


@contextmanager
def inside_job(job_id: str, queue_path: str) -> Iterator[None]:
    """``enter_job`` for a block; whatever job the process was in before is its job again."""
    previous = dict(_current)
    enter_job(job_id, queue_path)
    try:
        yield
    finally:
        _current.clear()
        _current.update(previous)


def job_location() -> tuple[str, str] | None:
    """(job id, queue folder) of the job this code runs in, or None outside of one."""
    if _current:
        return _current["job_id"], _current["queue_path"]
    job_id, queue_path = os.environ.get(JOB_ID_VAR), os.environ.get(QUEUE_VAR)
    if job_id and queue_path:
        return job_id, queue_path
    return None


def current_job() -> Job:
    """The job this code runs in; raises ``NotInJob`` outside of one."""
    location = job_location()
    if location is None:
        raise NotInJob("not inside a jobmagics job (no JOBMAGICS_JOB_ID)")
    job_id, queue_path = location
    return shared_queue(queue_path).get(job_id)


def progress(fraction: float | None = None, stage: str | None = None) -> None:
    """Report how far the job is (0..1) and what it is doing; shown live by widgets and the panel.

    Outside of a job this does nothing, so the same code runs in a plain notebook."""
    if fraction is not None:
        try:
            fraction = float(fraction)
        except (TypeError, ValueError):
            raise InvalidJob(
                f"progress must be a number between 0 and 1, not {fraction!r}") from None
        if not 0.0 <= fraction <= 1.0:
            raise InvalidJob(f"progress must be between 0 and 1, not {fraction}")
    location = job_location()
    if location is None:
        return
    job_id, queue_path = location
    now = time.monotonic()
    last = float(_throttle["last_write"])  # type: ignore[arg-type]
    changed_stage = stage is not None and stage != _throttle["stage"]
    if not changed_stage and fraction not in (0.0, 1.0) and now - last < _MIN_INTERVAL_S:
        return
    _throttle.update(last_write=now, stage=stage if stage is not None else _throttle["stage"])
    text = None if stage is None else str(stage)[:500]
    reports = os.environ.get(REPORT_DIR_VAR) if not _current else None
    if reports:
        _report_progress(Path(reports), job_id, fraction, text)
        return
    shared_queue(queue_path).store.set_progress(job_id, fraction, text)


def _report_progress(folder: Path, job_id: str, fraction: float | None,
                     stage: str | None) -> None:
    """The job's progress as a file for the worker: each file says all the job reported so
    far (the worker may read only the last of several)."""
    if fraction is not None:
        _throttle["fraction"] = fraction
    known_stage = stage if stage is not None else _throttle["stage"]
    header = {"progress": _throttle["fraction"],
              "stage": None if known_stage is None else str(known_stage)[:500]}
    write_report(report_path(folder, job_id, os.environ.get(ATTEMPT_VAR, "1"), "progress"),
                 pack_report(header))


# ---- reports as files (a job on a batch system) --------------------------------------------
def report_path(folder: Path | str, job_id: str, attempt: int | str, what: str) -> Path:
    """Where one attempt's ``what`` (``progress``, ``result``, ``input``, ``exit``) is."""
    return Path(folder) / f"{job_id}.{attempt}.{what}"


def write_report(path: Path, data: bytes) -> None:
    """Write ``data`` under a temporary name, then rename it to ``path``: a reader sees the
    whole file or none (a rename within one folder is atomic, on NFS too)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)


def pack_report(header: Mapping[str, Any], blob: bytes = b"") -> bytes:
    """A report: one line of JSON, then (for a result, or a job's input) the raw bytes."""
    return json.dumps(dict(header), separators=(",", ":")).encode() + b"\n" + blob


def unpack_report(data: bytes) -> tuple[dict[str, Any], bytes]:
    """``pack_report`` undone; ``ValueError`` if ``data`` is not a report."""
    line, newline, blob = data.partition(b"\n")
    header = json.loads(line) if newline else None
    if not isinstance(header, dict):
        raise ValueError("not a jobmagics report")
    return header, blob
