"""Experiment data: ``data/<job id>.h5``, written live and readable while it grows.

The writer appends points to resizable datasets and flushes after every chunk, in HDF5's
single-writer/multiple-reader (SWMR) mode, so ``load(job_id)`` in another notebook can plot
a run that is still going. Everything about the run (config, code identity, station) is in
the job's config snapshot, which ``load`` returns alongside the arrays."""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

import h5py
import numpy as np

from .client import Queue
from .errors import InvalidJob
from .job import Job
from .job_array import JobArray, array_elements_in_order
from .model import JOB_ID_RE
from .sweep_data import SweepData

if TYPE_CHECKING:
    from typing_extensions import Self

_ROWS_PER_CHUNK = 256
_OPEN_RETRY_S = 3.0      # a reader may arrive in the instant the writer creates the file


def _create_anew(path: Path) -> None:
    """Make ``path`` a new, empty file of ours before HDF5 opens it: whatever was there (an
    earlier attempt's file, or a link another account put in a shared data folder) goes, and
    the file is created only if nothing took its place meanwhile. In the sticky data folder of a
    system queue nobody else may then remove or replace it."""
    try:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666))
    except (FileExistsError, PermissionError):
        raise InvalidJob(f"cannot create {path}: another account put a file there") from None


def _attr_value(value: Any) -> Any:
    """HDF5 holds numbers, text and arrays; anything richer is kept as JSON text."""
    if value is None or isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return value


def _python_value(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str) and (value[:1] in ("{", "[") or value == "null"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if isinstance(value, np.generic):
        return value.item()
    return value


class DataWriter:
    """Append-only HDF5 writer for one run. Give the same datasets at every ``append``."""

    def __init__(self, path: str | os.PathLike[str],
                 attrs: Mapping[str, Any] | None = None) -> None:
        self.path = Path(path)
        # placeholders: in SWMR mode existing attributes may change, creating new ones is not
        # promised
        self._attrs: dict[str, Any] = {"created_at": time.time(), "finished_at": math.nan,
                                       "status": "running", "summary": "{}", "points": 0,
                                       **(attrs or {})}
        self._units: dict[str, str] = {}
        self._file: h5py.File | None = None
        self._datasets: dict[str, h5py.Dataset] = {}
        self.points = 0
        self.closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        interrupted = (exc_type is not None
                       and issubclass(exc_type, (KeyboardInterrupt, SystemExit)))
        if exc_type is None:
            self.close(status="completed")
        else:
            self.close(status="stopped" if interrupted else "failed")

    # ---- describing -------------------------------------------------------------------
    def set_attrs(self, **attrs: Any) -> None:
        """Metadata of the run; best set before the first point (readers see it from then)."""
        self._attrs.update(attrs)
        if self._file is not None:
            for key, value in attrs.items():
                self._file.attrs[key] = _attr_value(value)

    def set_units(self, **units: str) -> None:
        self._units.update(units)

    def set_plot(self, x: str, *y: str, x_range: tuple[float, float] | None = None) -> None:
        """Which dataset is the sweep axis and which are measured: live plots use this.
        ``x_range``: where the sweep will go (its first and last value), so that a live plot
        spans the planned sweep from the first point instead of growing with the points."""
        attrs: dict[str, Any] = {"plot_x": x, "plot_y": list(y)}
        if x_range is not None:
            attrs["plot_x_range"] = sorted(float(v) for v in x_range)
        self.set_attrs(**attrs)

    # ---- writing ----------------------------------------------------------------------
    def append(self, **values: Any) -> None:
        """One point: each value a number (or a fixed-shape array) per dataset."""
        self.extend(**{name: np.asarray(value)[np.newaxis, ...] for name, value in values.items()})

    def extend(self, **columns: Any) -> None:
        """Several points at once: each value an array whose first axis counts the points."""
        arrays = {name: np.asarray(value) for name, value in columns.items()}
        counts = {a.shape[0] if a.ndim else -1 for a in arrays.values()}
        if not arrays or len(counts) != 1 or -1 in counts:
            raise InvalidJob("extend() needs arrays of the same length for every dataset")
        if self._file is None:
            self._start(arrays)
        if set(arrays) != set(self._datasets):
            raise InvalidJob("give the same datasets at every append: expected"
                             f" {sorted(self._datasets)}, got {sorted(arrays)}")
        count = counts.pop()
        for name, array in arrays.items():
            dataset = self._datasets[name]
            dataset.resize(self.points + count, axis=0)
            dataset[self.points:self.points + count] = array
            dataset.flush()
        self.points += count
        assert self._file is not None
        self._file.flush()

    def _start(self, first: Mapping[str, np.ndarray]) -> None:
        """Create the file and every dataset, then switch to SWMR so readers can follow."""
        if self.closed:
            raise InvalidJob(f"{self.path.name} is closed: no more points can be added")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _create_anew(self.path)
        handle = h5py.File(self.path, "w", libver="latest")
        for key, value in self._attrs.items():
            handle.attrs[key] = _attr_value(value)
        for name, array in first.items():
            if not name.isidentifier():
                raise InvalidJob(f"dataset names must be identifiers, not {name!r}")
            inner = array.shape[1:]
            dataset = handle.create_dataset(name, shape=(0, *inner), maxshape=(None, *inner),
                                            dtype=array.dtype, chunks=(_ROWS_PER_CHUNK, *inner))
            if name in self._units:
                dataset.attrs["unit"] = self._units[name]
            self._datasets[name] = dataset
        handle.swmr_mode = True
        self._file = handle

    def close(self, summary: Mapping[str, Any] | None = None, status: str = "completed") -> None:
        """Mark the run finished (``finished_at``, ``status``, ``summary``) and close the file."""
        if self.closed:
            return
        final: dict[str, Any] = {"finished_at": time.time(), "points": self.points,
                                 "status": status}
        if summary is not None:
            final["summary"] = dict(summary)
        self._attrs.update(final)
        if self._file is None:      # no point was taken: still leave a file saying so
            self._start({})
        self.closed = True
        assert self._file is not None
        for key, value in final.items():
            self._file.attrs[key] = _attr_value(value)
        self._file.close()
        self._file = None


@dataclass(repr=False)
class ExperimentData:
    """The arrays of one run, its attributes, and the config snapshot of the job."""

    path: Path
    job_id: str | None
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    attrs: dict[str, Any] = field(default_factory=dict)
    snapshot: dict[str, Any] | None = None

    def __repr__(self) -> str:
        label = self.job_id or self.path.name
        what = self.attrs.get("experiment") or ""
        names = ", ".join(self.arrays) or "nothing yet"
        return f"<ExperimentData {label} {what}: {self.points} points of {names}; {self.status}>"

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.arrays[name]
        except KeyError:
            names = ", ".join(self.arrays) or "none yet"
            raise KeyError(f"no dataset {name!r} in {self.path.name}; it has {names}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.arrays

    def keys(self) -> list[str]:
        return list(self.arrays)

    @property
    def points(self) -> int:
        return min((len(a) for a in self.arrays.values()), default=0)

    @property
    def complete(self) -> bool:
        """True once the run ended and the file was closed properly."""
        finished = self.attrs.get("finished_at")
        return isinstance(finished, (int, float)) and math.isfinite(finished)

    @property
    def status(self) -> str:
        """running, completed, failed, stopped (cancelled / timed out) or interrupted (killed)."""
        return str(self.attrs.get("status", "running"))

    @property
    def config(self) -> dict[str, Any]:
        """The exact config the experiment ran with (from the snapshot)."""
        if self.snapshot is not None:
            return dict(self.snapshot.get("config", {}))
        return dict(self.attrs.get("config") or {})

    @property
    def summary(self) -> dict[str, Any]:
        return dict(self.attrs.get("summary") or {})

    def plot(self, ax: Any = None, y: str | None = None) -> Any:
        """Plot the measured data against the sweep axis (matplotlib); returns the axes."""
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.subplots()[1]
        x_name = str(self.attrs.get("plot_x") or next(iter(self.arrays), ""))
        measured = self.attrs.get("plot_y") or [k for k in self.arrays if k != x_name]
        for name in [y] if y else measured:
            ax.plot(self[x_name], self[name], ".-", label=name)
        planned = self.attrs.get("plot_x_range")
        if planned is not None and len(planned) == 2 and planned[1] > planned[0]:
            margin = (planned[1] - planned[0]) * 0.03      # the whole sweep, not the points so far
            ax.set_xlim(planned[0] - margin, planned[1] + margin)
        unit = self.units.get(x_name)
        ax.set_xlabel(f"{x_name} ({unit})" if unit else x_name)
        ax.set_title(f"{self.attrs.get('experiment', '')} {self.job_id or self.path.stem}".strip())
        ax.legend()
        return ax


QueueGiven = Queue | str | os.PathLike[str] | None


@overload
def load(job: Job, queue: QueueGiven = None) -> ExperimentData: ...
@overload
def load(job: JobArray, queue: QueueGiven = None) -> SweepData: ...
@overload
def load(job: str | os.PathLike[str], queue: QueueGiven = None) -> ExperimentData | SweepData: ...
def load(job: Job | JobArray | str | os.PathLike[str],
         queue: QueueGiven = None) -> ExperimentData | SweepData:
    """The data of an experiment job, by job (id) or by path; works while the job still runs
    (you get the points so far; ``.complete`` says whether it finished). An array (or its id),
    e.g. ``q.sweep(...)``: every element's data as one table, a ``SweepData``."""
    if isinstance(job, JobArray):
        return load_sweep(job)
    if isinstance(job, str) and JOB_ID_RE.match(job):
        found = (queue if isinstance(queue, Queue) else Queue(queue)).lookup(job)
        if isinstance(found, JobArray):
            return load_sweep(found)
    return load_run(job, queue)


def load_run(job: Job | str | os.PathLike[str],
             queue: Queue | str | os.PathLike[str] | None = None) -> ExperimentData:
    """The data of one experiment job (``load`` for a job, never an array)."""
    path, job_id, the_queue = _locate(job, queue)
    snapshot = _snapshot(the_queue, job_id)
    data = ExperimentData(path=path, job_id=job_id, snapshot=snapshot)
    if not path.exists():
        if the_queue is not None and job_id is not None and not the_queue.get(job_id).done:
            return data     # not started yet, or no point taken yet
        raise InvalidJob(f"{job_id or path} has no data: {path} does not exist")
    _read_into(data)
    if (data.status == "running" and the_queue is not None and job_id is not None
            and the_queue.get(job_id).done):
        # the run was killed before it could close its file (SIGKILL, power cut): say so
        data.attrs["status"] = "interrupted"
    return data


def _locate(job: Any, queue: Any) -> tuple[Path, str | None, Queue | None]:
    if isinstance(job, Job):
        return job.data_path, job.id, job.queue
    text = os.fspath(job)
    if JOB_ID_RE.match(text):
        the_queue = queue if isinstance(queue, Queue) else Queue(queue)
        return the_queue.get(text).data_path, text, the_queue
    path = Path(text)
    job_id = path.stem if JOB_ID_RE.match(path.stem) else None
    if queue is None and job_id is not None and path.parent.name == "data":
        queue = path.parent.parent
    found = queue if isinstance(queue, Queue) or queue is None else Queue(queue)
    return path, job_id, found


def _snapshot(queue: Queue | None, job_id: str | None) -> dict[str, Any] | None:
    if queue is None or job_id is None:
        return None
    path = queue.layout.config(job_id)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _read_into(data: ExperimentData) -> None:
    deadline = time.monotonic() + _OPEN_RETRY_S
    while True:
        try:
            with h5py.File(data.path, "r", libver="latest", swmr=True) as handle:
                data.attrs = {k: _python_value(v) for k, v in handle.attrs.items()}
                for name, dataset in handle.items():
                    if isinstance(dataset, h5py.Dataset):
                        dataset.refresh()
                        data.arrays[name] = dataset[()]
                        if "unit" in dataset.attrs:
                            data.units[name] = str(_python_value(dataset.attrs["unit"]))
            _trim_to_common_length(data)
            return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise InvalidJob(f"cannot read {data.path}: {exc}") from None
            time.sleep(0.05)


def _trim_to_common_length(data: ExperimentData) -> None:
    """A live reader may catch one dataset grown and the next not yet: show whole points only."""
    count = data.points
    data.arrays = {name: array[:count] for name, array in data.arrays.items()}


# ---- a sweep: every element's data as one table (jobmagics.sweep_data) ---------------------
def load_sweep(array: JobArray) -> SweepData:
    """Every element's ``data/<id>.h5`` of an array, as one ``SweepData`` table."""
    table = SweepData(array_id=array.id)
    configs: dict[int, dict[str, Any]] = {}
    for element in array_elements_in_order(array):
        index = element.last_read.array_index or 0
        experiment = element.last_read.experiment
        if not experiment:
            raise InvalidJob(f"{array.id} is an array of {element.kind} jobs; only experiments"
                             " write data files")
        try:
            table.runs[index] = load_run(element)
        except InvalidJob:            # ended without writing any (e.g. cancelled while waiting)
            table.missing.append(element.id)
            continue
        configs[index] = dict(experiment.get("config") or {})
        if not table.runs[index].arrays and not element.done:
            table.missing.append(element.id)     # not started, or no point taken yet
    table.fill(configs)
    return table
