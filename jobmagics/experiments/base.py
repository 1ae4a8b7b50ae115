"""``Experiment``: what a lab subclasses to run a measurement through the queue."""
from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from ..context import progress
from ..data import DataWriter
from ..errors import InvalidJob


class Experiment:
    """A measurement: a config dict in, data points out.

    Subclass it, list every config key with its default in ``defaults`` (unknown keys and
    wrong types are refused at submit, where the class can be imported, and again before the
    station is touched), check ranges in ``validate`` (no station calls there: it runs at
    submit too), and
    implement ``run(station, data)``: sweep, call the station, ``data.append(...)`` or
    ``data.extend(...)`` the points as they come, and return a small summary dict (fit results)
    that becomes the job's result. ``self.sweep(points)`` reports progress as it goes.

    Submit it with ``q.submit(experiment="mymodule:MyExperiment", config={...})``."""

    defaults: ClassVar[dict[str, Any]] = {}
    units: ClassVar[dict[str, str]] = {}        # of config keys and datasets, for humans and plots
    accepts_extra_keys: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        if config is not None and not isinstance(config, Mapping):
            raise InvalidJob(f"the config of {type(self).__name__} must be a dict,"
                             f" not {type(config).__name__}")
        self.submitted: dict[str, Any] = dict(config or {})
        self.config: dict[str, Any] = merged_config(type(self), self.submitted)
        self.validate()

    def validate(self) -> None:
        """Override: call ``self.require(condition, message)`` for every range check."""

    def require(self, condition: object, message: str) -> None:
        if not condition:
            raise InvalidJob(f"bad config for {type(self).__name__}: {message}")

    def setup(self, station: Any) -> None:
        """Called once before ``run``; by default seeds the station's noise if config has a seed."""
        seed = self.config.get("seed")
        if seed is not None and hasattr(station, "reseed"):
            station.reseed(int(seed))

    def run(self, station: Any, data: DataWriter) -> Mapping[str, Any] | None:
        raise NotImplementedError(f"{type(self).__name__} must implement run(station, data)")

    # ---- helpers for run() --------------------------------------------------------------
    def linspace(self, start_key: str = "start", stop_key: str = "stop",
                 points_key: str = "points") -> np.ndarray:
        return np.linspace(float(self.config[start_key]), float(self.config[stop_key]),
                           int(self.config[points_key]))

    def sweep(self, points: np.ndarray, chunk: int | None = None,
              stage: str = "sweep") -> Iterator[np.ndarray]:
        """Yield ``points`` a chunk at a time, reporting progress after each chunk."""
        size = max(1, int(chunk or self.config.get("chunk") or 10))
        total = len(points)
        progress(0.0, f"{stage} 0/{total}")
        for start in range(0, total, size):
            yield points[start:start + size]
            done = min(start + size, total)
            progress(done / total, f"{stage} {done}/{total}")


def merged_config(cls: type, submitted: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with what was submitted; unknown keys and wrong types are refused."""
    defaults: dict[str, Any] = dict(getattr(cls, "defaults", {}) or {})
    merged = dict(defaults)
    for key, value in submitted.items():
        if not isinstance(key, str):
            raise InvalidJob(f"bad config for {cls.__name__}: keys must be text, not {key!r}")
        if key not in defaults:
            if defaults and not getattr(cls, "accepts_extra_keys", False):
                raise InvalidJob(f"bad config for {cls.__name__}: unknown key {key!r}"
                                 f"{_did_you_mean(key, defaults)}"
                                 f" (it takes {', '.join(sorted(defaults))})")
            merged[key] = value
            continue
        merged[key] = _coerce(cls.__name__, key, defaults[key], value)
    return merged


def _did_you_mean(key: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _coerce(owner: str, key: str, default: Any, value: Any) -> Any:
    """Keep the type the default has: ints stay whole, floats accept ints, bools stay bools."""
    def refuse(kind: str) -> InvalidJob:
        return InvalidJob(f"bad config for {owner}: {key!r} must be {kind}, not {value!r}")

    if default is None:
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise refuse("true or false")
        return value
    if isinstance(default, int):
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not np.isfinite(value) or float(value) != int(value)):
            raise refuse("a whole number")
        return int(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise refuse("a number")
        return float(value)
    if isinstance(default, str) and not isinstance(value, str):
        raise refuse("text")
    if isinstance(default, (list, tuple)) and not isinstance(value, (list, tuple)):
        raise refuse("a list")
    return value
