"""Instruments: the station experiments run against.

``SimulatedStation`` is the built-in stand-in for a lab's FPGA-driven qubit setup; a real
station is any object with ``connect()``, ``close()`` and the methods its experiments call.
``open_station`` picks the station a worker's experiment jobs use."""
from __future__ import annotations

from .guard import ExclusiveGuard
from .physics import DeviceParameters
from .selection import STATION_CONFIG, STATION_GLOBAL, STATION_VAR, connect_station, open_station
from .simulated import SimulatedStation

__all__ = [
    "STATION_CONFIG",
    "STATION_GLOBAL",
    "STATION_VAR",
    "DeviceParameters",
    "ExclusiveGuard",
    "SimulatedStation",
    "connect_station",
    "open_station",
]
