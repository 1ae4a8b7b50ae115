"""``run_experiment``: run one experiment job against a station, end to end.

Used by the subprocess runner (``python -m kernel_worker.runners.experiment_job``), which
opens the station itself, and by a persistent-kernel executor, which passes the station its
``--startup`` file connected. Steps: load the class, check the config (before touching the
instrument), snapshot config + code identity to ``configs/<id>.json``, run with a live
``data/<id>.h5`` writer, store the summary as the job's result."""
from __future__ import annotations

import inspect
import os
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import paths
from ..checks import plain
from ..client import shared_queue
from ..configs import ConfigStore
from ..context import inside_job, progress
from ..data import DataWriter
from ..errors import InvalidJob, ResultNotSent
from ..model import JobRecord
from ..payloads import dump_exception, dump_value
from .checking import configured
from .identity import code_identity, environment_identity
from .loading import load_experiment_class


def run_experiment(job_id: str, queue_path: str | os.PathLike[str] | None = None,
                   station: Any = None, *, trusted: bool = True) -> dict[str, Any]:
    """Run experiment job ``job_id``; returns its summary, which is also the job's result.

    With ``station=None`` the worker's station is opened (see ``jobmagics.instruments``) and
    closed afterwards; a given station is used as is and left connected. Not ``trusted``: the
    job's owner may not run code here (a system queue's instrument kernel, which runs as its
    service): the class is imported from where the admins installed it, never from the job's
    folder, and only from a file nobody but the service's account may change."""
    # the cached Queue: a persistent kernel runs many experiments and need not open the
    # database (and run its migration check) again for each
    queue = shared_queue(queue_path)
    record = queue.store.get(job_id)
    # progress() must reach this job even in a long-lived kernel; whoever called us gets
    # their own job context back afterwards
    with inside_job(job_id, str(queue.path)):
        try:
            summary = _run(queue, record, station, trusted)
        except BaseException as exc:
            queue.store.save_result(job_id, False, dump_exception(exc))
            raise
    try:
        blob = dump_value(summary, "its summary")
    except ResultNotSent as exc:
        queue.store.save_result(job_id, False, dump_exception(exc), error=str(exc))
        raise
    queue.store.save_result(job_id, True, blob)
    return summary


def _run(queue: Any, record: JobRecord, station: Any, trusted: bool) -> dict[str, Any]:
    if record.kind != "experiment" or not record.experiment:
        raise InvalidJob(f"{record.id} is a {record.kind} job, not an experiment")
    progress(0.0, "loading experiment")
    cls = load_experiment_class(record.experiment["target"], [record.cwd] if trusted else [])
    if not trusted:
        check_installed_safely(cls)
    experiment = configured(cls, record.experiment.get("config") or {})
    opened_here = station is None
    if opened_here:
        from ..instruments import open_station
        progress(0.0, "connecting station")
        station, origin = open_station(queue.layout)
    else:
        origin = {"provided_by": "worker kernel"}
    try:
        snapshot = build_snapshot(record, cls, experiment, station, origin)
        ConfigStore(queue.layout).write_snapshot(record.id, snapshot)
        summary = _measure(queue, record, experiment, station, snapshot)
    finally:
        if opened_here and callable(getattr(station, "close", None)):
            station.close()
    progress(1.0, "done")
    return summary


def _measure(queue: Any, record: JobRecord, experiment: Any, station: Any,
             snapshot: Mapping[str, Any]) -> dict[str, Any]:
    attrs = {"job_id": record.id, "experiment": snapshot["experiment"],
             "config": snapshot["config"], "user": record.user,
             "station": snapshot["station"].get("name", ""),
             "snapshot": f"configs/{record.id}.json", "run_started_at": time.time(),
             "run_finished_at": float("nan"),
             "fit": None}     # set at the end (SWMR readers see attributes change, not appear)
    with DataWriter(queue.layout.data(record.id), attrs=attrs) as data:
        setup = getattr(experiment, "setup", None)
        if callable(setup):
            setup(station)
        summary = plain(experiment.run(station, data) or {})
        data.set_attrs(run_finished_at=time.time())
        data.close(summary=summary)
    return summary


def check_installed_safely(cls: type) -> None:
    """The file of ``cls`` and the folders above it belong to this account (or root) and no
    one else may write them: another account could otherwise change the code this process
    runs for everyone."""
    try:
        source = inspect.getsourcefile(cls)
    except TypeError:
        source = None
    if source is None:
        raise InvalidJob(f"{cls.__module__}:{cls.__qualname__} is not run for other users: its"
                         " source file cannot be found, so who may change it cannot be checked")
    me = os.geteuid()
    path = Path(source).resolve()
    for place in (path, *path.parents):
        info = place.stat()
        others_write = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
        sticky = place.is_dir() and info.st_mode & stat.S_ISVTX   # (/tmp: none may replace ours)
        if info.st_uid not in (0, me) or (others_write and not sticky):
            raise InvalidJob(f"{cls.__module__}:{cls.__qualname__} is not run for other users:"
                             f" {place} may be changed by others than {paths.current_user()}"
                             " (install allowed experiments where only the service's account"
                             " may write)")


def build_snapshot(record: JobRecord, cls: type, experiment: Any, station: Any,
                   origin: Mapping[str, Any]) -> dict[str, Any]:
    """Everything needed to know, later and from anywhere, what produced the data."""
    describe = getattr(station, "describe", None)
    return {
        "job_id": record.id, "attempt": record.attempt, "name": record.name,
        "experiment": record.experiment["target"] if record.experiment else None,
        "config": plain(getattr(experiment, "config", record.experiment)),
        "submitted_config": dict((record.experiment or {}).get("config") or {}),
        "defaults": plain(getattr(cls, "defaults", {}) or {}),
        "code": code_identity(cls), "environment": environment_identity(),
        "station": (plain(describe()) if callable(describe)
                    else {"name": type(station).__name__}),
        "station_origin": dict(origin),
        "submitted_by": record.user, "submitted_from": record.host,
        "submitted_at": record.submitted_at,
        "cwd": record.cwd, "run_by": paths.current_user(), "run_on": paths.current_host(),
        "started_at": time.time(), "data": f"data/{record.id}.h5",
    }


