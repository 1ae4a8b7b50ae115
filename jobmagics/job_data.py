"""An experiment's data file read from a point offset, for a viewer that already holds the
points before it (JupyterLab's job view polls only what is new).

``data/<id>.h5`` is written live in SWMR mode (``jobmagics.data.DataWriter``); here it is
opened the same way a live reader opens it and the datasets refreshed, the 1-D numeric
columns cut at the shortest (a write may land between two datasets) and sliced from the
offset, at most ``MAX_POINTS`` at a time. JSON has no NaN: non-finite numbers are ``None``.
When the run's file carries a fit curve (attribute ``fit``, see ``experiments.fits``) the
finished run's answer samples it (``fits.sample``)."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import h5py
import numpy as np

from .data import _python_value
from .errors import InvalidJob
from .experiments import fits

if TYPE_CHECKING:
    from .job import Job

MAX_POINTS = 100_000       # one answer carries at most this many points (ask again from there)
FIT_POINTS = 200           # the fitted curve is sampled on this many points
OPEN_RETRY_S = 1.0         # a reader may arrive in the instant the writer creates the file

__all__ = ["MAX_POINTS", "read_data", "run_facts"]


def read_data(path: Path, offset: int = 0, *, ended: bool = False,
              limit: int = MAX_POINTS) -> dict[str, Any]:
    """The columns of ``path`` from point ``offset`` (at most ``limit`` points) and what the
    file says about the run: plot axes, units, status, summary, and the fit curve once the
    run is complete. ``ended``: the job has ended (a run still 'running' then was killed).
    No file yet: ``exists`` False, status ``waiting`` (``none`` once the job ended without
    writing one)."""
    answer: dict[str, Any] = {"exists": False, "offset": offset, "points": 0, "columns": {},
                              "x": None, "y": [], "x_range": None, "units": {},
                              "complete": False,
                              "status": "none" if ended else "waiting",
                              "summary": None, "fit": None}
    if not path.exists():
        return answer
    deadline = time.monotonic() + OPEN_RETRY_S
    while True:
        try:
            with h5py.File(path, "r", libver="latest", swmr=True) as handle:
                return answer | _read_open(handle, offset, ended, limit)
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise InvalidJob(f"cannot read {path.name}: {exc}") from None
            time.sleep(0.05)


def _read_open(handle: h5py.File, offset: int, ended: bool, limit: int) -> dict[str, Any]:
    attrs = {key: _python_value(value) for key, value in handle.attrs.items()}
    datasets = _columns(handle)
    points = min((len(d) for d in datasets.values()), default=0)
    end = min(points, offset + limit)
    columns = {name: _json_numbers(d[offset:end]) if offset < end else []
               for name, d in datasets.items()}
    finished = attrs.get("finished_at")
    complete = isinstance(finished, (int, float)) and math.isfinite(finished)
    status = str(attrs.get("status") or "running")
    if status == "running" and ended:
        status = "interrupted"        # killed before it could close its file
    x_name = attrs.get("plot_x") if attrs.get("plot_x") in datasets else None
    y_names = [n for n in attrs.get("plot_y") or [] if n in datasets]
    units = {name: str(_python_value(d.attrs["unit"])) for name, d in datasets.items()
             if "unit" in d.attrs}
    fit = attrs.get("fit")
    curve = _fit_curve(fit, datasets, points) if complete and isinstance(fit, dict) else None
    planned = attrs.get("plot_x_range")
    x_range = ([float(v) for v in planned] if isinstance(planned, list) and len(planned) == 2
               else None)
    return {"exists": True, "points": points, "columns": columns, "x": x_name, "y": y_names,
            "x_range": x_range, "units": units, "complete": complete, "status": status,
            "summary": json_safe(attrs.get("summary")) or None, "fit": curve}


def _columns(handle: h5py.File) -> dict[str, h5py.Dataset]:
    """The file's datasets of one real number per point, refreshed to what was written."""
    found = {}
    for name, item in handle.items():
        if not isinstance(item, h5py.Dataset) or item.ndim != 1:
            continue
        if item.dtype.kind not in "biuf":      # complex, text, compound: not a plotted column
            continue
        item.refresh()
        found[name] = item
    return found


def _json_numbers(values: np.ndarray) -> list[Any]:
    """Plain numbers for JSON; non-finite ones as None (JSON has no NaN or Infinity)."""
    if values.dtype.kind != "f":
        return values.tolist()
    finite = np.isfinite(values)
    if finite.all():
        return values.tolist()
    as_objects = values.astype(object)
    as_objects[~finite] = None
    return as_objects.tolist()


def json_safe(value: Any) -> Any:
    """``value`` with its non-finite numbers (at any depth) as None: JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def _fit_curve(fit: dict[str, Any], datasets: dict[str, h5py.Dataset],
               points: int) -> dict[str, list[Any]] | None:
    """The file's fit curve sampled over the range of its x column; None when it cannot be
    (an unknown model, a column that is not there)."""
    x_name = fit.get("x")
    if x_name not in datasets or points == 0:
        return None
    x = np.asarray(datasets[x_name][:points], dtype=float)
    x = x[np.isfinite(x)]
    if not len(x):
        return None
    try:
        sampled = fits.sample(fit, float(x.min()), float(x.max()), FIT_POINTS)
    except (KeyError, TypeError, ValueError):
        return None
    return {name: _json_numbers(np.asarray(values, dtype=float))
            for name, values in sampled.items()}


# ---- what produced a run and what it found: the one-job JSON's small extras -------------
SNAPSHOT_ENTRY_CHARS = 8192      # a bigger entry of a config snapshot is left out (code source)
SUMMARY_CHARS = 16384            # a result summary is fit parameters: a bigger one is cut
_SOURCE_KEYS = ("source",)        # the class's whole source text: its file and hash remain


def run_facts(job: Job) -> dict[str, Any]:
    """An experiment job's ``result`` (its summary, from its data file: never a pickle) and
    ``snapshot`` (what ran: experiment, config with defaults, code identity, station), both
    small; None each when there is none (yet, or not an experiment)."""
    if job.last_read.kind != "experiment":
        return {"result": None, "snapshot": None}
    return {"result": _small(_summary(job.data_path), SUMMARY_CHARS),
            "snapshot": _small_snapshot(job)}


def _summary(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        with h5py.File(path, "r", libver="latest", swmr=True) as handle:
            summary = _python_value(handle.attrs.get("summary"))
    except OSError:            # being created this instant: the next look finds it
        return None
    return json_safe(summary) if isinstance(summary, dict) and summary else None


def _small_snapshot(job: Job) -> dict[str, Any] | None:
    try:
        snapshot = job.snapshot()
    except (InvalidJob, OSError, ValueError):
        return None
    code = snapshot.get("code")
    if isinstance(code, dict):
        snapshot["code"] = {k: v for k, v in code.items() if k not in _SOURCE_KEYS}
    return _small(json_safe(snapshot), SNAPSHOT_ENTRY_CHARS, per_entry=True)


def _small(data: dict[str, Any] | None, limit: int,
           per_entry: bool = False) -> dict[str, Any] | None:
    """``data`` without the entries whose JSON is longer than ``limit`` (each one, when
    ``per_entry``; else those past ``limit`` in all), their names under ``omitted``, so a
    viewer can say what is not shown."""
    if data is None:
        return None
    sizes = {key: len(json.dumps(value, default=str)) for key, value in data.items()}
    kept: dict[str, Any] = {}
    total = 0
    for key, value in data.items():
        total += sizes[key]
        if sizes[key] <= limit and (per_entry or total <= limit):
            kept[key] = value
    omitted = [key for key in data if key not in kept]
    return kept | ({"omitted": omitted} if omitted else {})
