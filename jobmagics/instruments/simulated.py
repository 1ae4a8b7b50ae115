"""A simulated station: an FPGA controller driving one superconducting qubit and its readout
resonator. The one sanctioned fake of jobmagics: everything around it (queue, worker, data
files, config snapshots) is real, and its data look like a lab's (noise, dips, fringes)."""
from __future__ import annotations

import os
import time
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidJob
from . import physics
from .guard import ExclusiveGuard
from .physics import DeviceParameters

if TYPE_CHECKING:
    from typing_extensions import Self

_PULSE_LENGTH_FOR_SPECTROSCOPY = 10e-6   # long enough to saturate the qubit


class SimulatedStation:
    """``connect()`` / ``close()`` (or ``with``); every measurement takes ``reps`` shots of
    ``rep_time`` each, shortened by ``time_scale`` so tests stay fast (1.0 = real time)."""

    kind = "simulated"

    def __init__(self, name: str = "sim-qubit", *, parameters: Mapping[str, Any] | None = None,
                 rep_time: float = 200e-6, time_scale: float = 0.01, seed: int | None = None,
                 lock_path: str | os.PathLike[str] | None = None) -> None:
        if not rep_time > 0 or not time_scale >= 0:
            raise InvalidJob("rep_time must be positive and time_scale at least 0")
        self.name = name
        self.parameters = DeviceParameters.from_mapping(parameters)
        self.rep_time = float(rep_time)
        self.time_scale = float(time_scale)
        self.guard = ExclusiveGuard(name, lock_path)
        self._rng = np.random.default_rng(seed)
        self._seed = seed
        self.connected_at: float | None = None
        self.first_used_at: float | None = None
        self.last_used_at: float | None = None

    def __repr__(self) -> str:
        state = "connected" if self.connected else "closed"
        return f"<SimulatedStation {self.name!r} {state}>"

    # ---- lifecycle --------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self.guard.held

    def connect(self) -> Self:
        """Take the instrument; raises if another process holds it."""
        self.guard.acquire()
        self.connected_at = time.time()
        return self

    def close(self) -> None:
        self.guard.release()

    def __enter__(self) -> Self:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reseed(self, seed: int | None) -> None:
        """Make the next measurements' noise reproducible (a lab's 'same sample, same day')."""
        self._seed = seed
        self._rng = np.random.default_rng(seed)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "rep_time": self.rep_time,
                "time_scale": self.time_scale, "parameters": self.parameters.to_dict()}

    def acquisition_time(self, points: int, reps: int) -> float:
        """Wall-clock seconds ``points`` points of ``reps`` shots take on this station."""
        return points * reps * self.rep_time * self.time_scale

    # ---- measurements -----------------------------------------------------------------
    def resonator_sweep(self, frequencies: np.ndarray, reps: int) -> np.ndarray:
        """Transmission (complex IQ) at each probe frequency, qubit in its thermal state."""
        freqs = _points(frequencies)
        with self._acquiring("resonator sweep", len(freqs), reps):
            ideal = physics.transmission(freqs, self.parameters, self.parameters.thermal_population)
            return ideal + self._iq_noise(self.parameters.spectroscopy_noise, reps, len(freqs))

    def qubit_sweep(self, frequencies: np.ndarray, reps: int, *, amplitude: float) -> np.ndarray:
        """Readout signal after a long saturating drive at each frequency."""
        freqs = _points(frequencies)
        rabi = amplitude * self.parameters.rabi_frequency_at_full_amplitude
        with self._acquiring("qubit sweep", len(freqs), reps):
            excited = physics.driven_population(freqs - self.parameters.qubit_frequency, rabi,
                                                _PULSE_LENGTH_FOR_SPECTROSCOPY,
                                                self.parameters.rabi_decay_time)
            return self._read_out(excited, reps)

    def rabi(self, lengths: np.ndarray, reps: int, *, amplitude: float,
             frequency: float | None = None) -> np.ndarray:
        """Readout signal after a square drive pulse of each length."""
        durations = _points(lengths)
        detuning = (frequency if frequency is not None else self.parameters.qubit_frequency) \
            - self.parameters.qubit_frequency
        rabi = amplitude * self.parameters.rabi_frequency_at_full_amplitude
        with self._acquiring("rabi", len(durations), reps):
            excited = physics.driven_population(detuning, rabi, durations,
                                                self.parameters.rabi_decay_time)
            return self._read_out(excited, reps)

    def relaxation(self, delays: np.ndarray, reps: int) -> np.ndarray:
        """Readout signal a delay after a pi pulse (T1)."""
        waits = _points(delays)
        with self._acquiring("relaxation", len(waits), reps):
            return self._read_out(physics.relaxed_population(waits, self.parameters), reps)

    def ramsey(self, delays: np.ndarray, reps: int, *, detuning: float,
               frequency: float | None = None) -> np.ndarray:
        """Readout signal after pi/2 - delay - pi/2, driven ``detuning`` off the qubit."""
        waits = _points(delays)
        drive = (frequency if frequency is not None else self.parameters.qubit_frequency) + detuning
        offset = drive - self.parameters.qubit_frequency
        with self._acquiring("ramsey", len(waits), reps):
            return self._read_out(physics.ramsey_population(waits, offset, self.parameters), reps)

    # ---- inside -----------------------------------------------------------------------
    def _acquiring(self, what: str, points: int, reps: object) -> _Acquisition:
        # ``reps`` comes from a user's cell whatever the signatures say: checked here.
        if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
            raise InvalidJob(f"reps must be a whole number of shots >= 1, not {reps!r}")
        return _Acquisition(self, what, self.acquisition_time(points, int(reps)))

    def _read_out(self, excited: np.ndarray, reps: int) -> np.ndarray:
        """Averaged IQ: projection noise on the population, then amplifier noise."""
        measured = self._rng.binomial(reps, np.clip(excited, 0.0, 1.0)) / reps
        ground, excited_point = physics.readout_points(self.parameters,
                                                       self.parameters.resonator_frequency)
        ideal = ground + measured * (excited_point - ground)
        separation = abs(excited_point - ground)
        noise = self._iq_noise(self.parameters.readout_noise * separation, reps, len(measured))
        return ideal + noise

    def _iq_noise(self, per_shot: float, reps: int, count: int) -> np.ndarray:
        sigma = per_shot / np.sqrt(reps)
        return self._rng.normal(0, sigma, count) + 1j * self._rng.normal(0, sigma, count)


class _Acquisition:
    """One guarded measurement that lasts as long as the shots would."""

    def __init__(self, station: SimulatedStation, what: str, duration: float) -> None:
        self.station, self.what, self.duration = station, what, duration
        self._operation = station.guard.operation(what)

    def __enter__(self) -> None:
        self._operation.__enter__()
        if self.station.first_used_at is None:
            self.station.first_used_at = time.time()
        try:
            if self.duration > 0:
                time.sleep(self.duration)
        except BaseException:
            self._operation.__exit__(None, None, None)   # a cancelled job must not leave it busy
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.station.last_used_at = time.time()
        self._operation.__exit__(exc_type, exc, traceback)


def _points(values: np.ndarray | list[float]) -> np.ndarray:
    array = np.atleast_1d(np.asarray(values, dtype=float))
    if array.ndim != 1 or not np.all(np.isfinite(array)):
        raise InvalidJob("sweep points must be a flat list of finite numbers")
    return array
