"""Which station a worker's experiment jobs run against.

- ``$JOBMAGICS_STATION=module:factory`` (set for the worker): a lab's real station; the
  factory takes no arguments and returns a station object.
- otherwise a ``SimulatedStation`` whose settings come from the main version of the queue's
  named config ``station`` (``save_config("station", {...})``), so the device parameters
  an experiment ran with are versioned like any other config.
A persistent-kernel worker connects its station once (``--startup FILE`` with
``station = connect_station()``) and passes that global to ``run_experiment``, which then does
not call this."""
from __future__ import annotations

import os
from typing import Any

from ..configs import ConfigStore
from ..errors import InvalidJob
from ..paths import QueueLayout
from .simulated import SimulatedStation

STATION_VAR = "JOBMAGICS_STATION"
STATION_GLOBAL = "station"   # the persistent kernel's global experiment jobs run against
STATION_CONFIG = "station"
_SIMULATED_SETTINGS = {"name", "parameters", "rep_time", "time_scale", "seed"}


def open_station(layout: QueueLayout) -> tuple[Any, dict[str, Any]]:
    """A connected station and a note of where it came from (for the snapshot)."""
    target = os.environ.get(STATION_VAR)
    if target:
        station, origin = _station_from_factory(target), {"factory": target}
    else:
        station, origin = _simulated_station(layout)
    connect = getattr(station, "connect", None)
    if callable(connect) and not getattr(station, "connected", False):
        connect()
    return station, origin


def connect_station(queue: Any = None) -> Any:
    """For a worker's ``--startup`` file: the station experiment jobs of this queue would
    open (same settings, same lock), connected, to keep for the kernel's lifetime. Name it
    ``station = connect_station()``: experiment jobs in that kernel run against the global
    ``station`` (``STATION_GLOBAL``), and python jobs on ``hardware`` see it too."""
    from ..client import Queue

    layout = queue.layout if hasattr(queue, "layout") else Queue(queue).layout
    return open_station(layout)[0]


def _station_from_factory(target: str) -> Any:
    import importlib

    from ..experiments.loading import split_target

    module_name, name = split_target(target)
    try:
        factory = getattr(importlib.import_module(module_name), name)
    except Exception as exc:  # noqa: BLE001
        raise InvalidJob(f"cannot load the station factory {target} (from ${STATION_VAR}):"
                         f" {type(exc).__name__}: {exc}") from None
    return factory()


def _simulated_station(layout: QueueLayout) -> tuple[SimulatedStation, dict[str, Any]]:
    configs = ConfigStore(layout)
    settings: dict[str, Any] = {}
    origin: dict[str, Any] = {"simulated": True, "config": None, "version": None}
    if STATION_CONFIG in configs.names() and configs.history(STATION_CONFIG):
        chosen = configs.info(STATION_CONFIG)
        settings = chosen.load()
        origin.update(config=STATION_CONFIG, version=chosen.version, sha256=chosen.sha256)
    unknown = sorted(set(settings) - _SIMULATED_SETTINGS)
    if unknown:
        raise InvalidJob(f"config {STATION_CONFIG!r} has unknown setting {unknown[0]!r};"
                         f" a simulated station takes {', '.join(sorted(_SIMULATED_SETTINGS))}")
    name = str(settings.get("name", "sim-qubit"))
    station = SimulatedStation(name, parameters=settings.get("parameters"),
                               rep_time=float(settings.get("rep_time", 200e-6)),
                               time_scale=float(settings.get("time_scale", 0.01)),
                               seed=settings.get("seed"),
                               lock_path=layout.root / f"station-{_safe(name)}.lock")
    return station, origin


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
