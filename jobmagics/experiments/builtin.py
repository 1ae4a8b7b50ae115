"""The built-in single-qubit experiments: the usual bring-up sequence of a transmon.

Resonator spectroscopy finds the readout resonator, qubit spectroscopy the qubit, Rabi the
pi pulse, T1 and Ramsey the coherence. Frequencies in Hz, times in seconds; every config key
has a default that suits ``SimulatedStation``, so ``config={}`` runs."""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..data import DataWriter
from . import fits
from .base import Experiment

_COMMON = {"reps": 500, "chunk": 10, "seed": None}


def _iq_columns(axis: str, points: np.ndarray, iq: np.ndarray) -> dict[str, np.ndarray]:
    return {axis: points, "i": iq.real, "q": iq.imag, "amplitude": np.abs(iq),
            "phase": np.angle(iq)}


class _SweepExperiment(Experiment):
    """Shared shape: sweep ``start..stop`` in ``points`` steps of ``reps`` shots each."""

    axis = "x"
    axis_unit = ""
    plotted = "amplitude"
    # the fit drawn over the plotted column: (fits.MODELS name, {its shape parameter: the
    # summary entry that holds it}); None: no curve
    curve: ClassVar[tuple[str, dict[str, str]] | None] = None

    def validate(self) -> None:
        self.require(self.config["points"] >= 3,
                     f"points must be at least 3, not {self.config['points']}")
        self.require(self.config["points"] <= 100_000, "points must be at most 100000")
        self.require(self.config["reps"] >= 1,
                     f"reps must be at least 1, not {self.config['reps']}")
        self.require(self.config["stop"] > self.config["start"], "stop must be greater than start")

    def run(self, station: Any, data: DataWriter) -> dict[str, Any]:
        data.set_units(**{self.axis: self.axis_unit}, i="a.u.", q="a.u.", amplitude="a.u.",
                       phase="rad")
        data.set_plot(self.axis, self.plotted,
                      x_range=(self.config["start"], self.config["stop"]))
        measured = []
        for chunk in self.sweep(self.linspace(), stage=type(self).__name__):
            iq = self.measure(station, chunk)
            data.extend(**_iq_columns(self.axis, chunk, iq))
            measured.append(iq)
        columns = _iq_columns(self.axis, self.linspace(), np.concatenate(measured))
        summary = self.fit(columns)
        if self.curve is not None:        # what viewers draw over the data (job view, widget)
            model, shape = self.curve
            data.set_attrs(fit=fits.fitted_curve(
                model, self.axis, self.plotted, columns[self.axis], columns[self.plotted],
                **{name: summary[key] for name, key in shape.items()}))
        return summary

    def measure(self, station: Any, points: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def fit(self, data: dict[str, np.ndarray]) -> dict[str, Any]:
        """The summary of the run (becomes the job's result); ``data`` as in the file."""
        return {}


class ResonatorSpectroscopy(_SweepExperiment):
    """Transmission vs probe frequency: a Lorentzian dip at the readout resonator."""

    defaults: ClassVar[dict[str, Any]] = {"start": 7.000e9, "stop": 7.025e9, "points": 201,
                                          **_COMMON}
    axis, axis_unit = "frequency", "Hz"
    curve = ("lorentzian", {"centre": "resonator_frequency", "width": "linewidth"})

    def measure(self, station: Any, points: np.ndarray) -> np.ndarray:
        return station.resonator_sweep(points, self.config["reps"])

    def fit(self, data: dict[str, np.ndarray]) -> dict[str, Any]:
        dip = fits.lorentzian_dip(data["frequency"], data["amplitude"])
        return {"resonator_frequency": dip["centre"], "linewidth": dip["width"],
                "depth": dip["depth"]}


class QubitSpectroscopy(_SweepExperiment):
    """Readout signal vs drive frequency under a weak saturating drive: a peak at the qubit."""

    defaults: ClassVar[dict[str, Any]] = {"start": 5.08e9, "stop": 5.17e9, "points": 181,
                                          "amplitude": 0.02, **_COMMON}
    axis, axis_unit, plotted = "frequency", "Hz", "i"
    curve = ("lorentzian", {"centre": "qubit_frequency", "width": "linewidth"})

    def validate(self) -> None:
        super().validate()
        self.require(0 < self.config["amplitude"] <= 1, "amplitude must be in (0, 1]")

    def measure(self, station: Any, points: np.ndarray) -> np.ndarray:
        return station.qubit_sweep(points, self.config["reps"], amplitude=self.config["amplitude"])

    def fit(self, data: dict[str, np.ndarray]) -> dict[str, Any]:
        signal = fits.principal_component(data["i"] + 1j * data["q"])
        peak = fits.lorentzian_peak(data["frequency"], signal)
        return {"qubit_frequency": peak["centre"], "linewidth": peak["width"]}


class Rabi(_SweepExperiment):
    """Readout signal vs drive pulse length: oscillations at the Rabi frequency."""

    defaults: ClassVar[dict[str, Any]] = {"start": 0.0, "stop": 200e-9, "points": 81,
                                          "amplitude": 0.5, "frequency": None, **_COMMON}
    axis, axis_unit, plotted = "length", "s", "i"
    curve = ("damped_cosine", {"frequency": "rabi_frequency", "decay_time": "decay_time"})

    def validate(self) -> None:
        super().validate()
        self.require(self.config["start"] >= 0, "pulse lengths cannot be negative")
        self.require(0 < self.config["amplitude"] <= 1, "amplitude must be in (0, 1]")

    def measure(self, station: Any, points: np.ndarray) -> np.ndarray:
        return station.rabi(points, self.config["reps"], amplitude=self.config["amplitude"],
                            frequency=self.config["frequency"])

    def fit(self, data: dict[str, np.ndarray]) -> dict[str, Any]:
        signal = fits.principal_component(data["i"] + 1j * data["q"])
        oscillation = fits.damped_cosine(data["length"], signal)
        frequency = oscillation["frequency"]
        return {"rabi_frequency": frequency, "pi_pulse_length": 1 / (2 * frequency),
                "decay_time": oscillation["decay_time"]}


class T1(_SweepExperiment):
    """Readout signal vs delay after a pi pulse: exponential relaxation."""

    defaults: ClassVar[dict[str, Any]] = {"start": 0.0, "stop": 150e-6, "points": 61, **_COMMON}
    axis, axis_unit, plotted = "delay", "s", "i"
    curve = ("exponential_decay", {"decay_time": "t1"})

    def validate(self) -> None:
        super().validate()
        self.require(self.config["start"] >= 0, "delays cannot be negative")

    def measure(self, station: Any, points: np.ndarray) -> np.ndarray:
        return station.relaxation(points, self.config["reps"])

    def fit(self, data: dict[str, np.ndarray]) -> dict[str, Any]:
        signal = fits.principal_component(data["i"] + 1j * data["q"])
        return {"t1": fits.exponential_decay(data["delay"], signal)["decay_time"]}


class Ramsey(_SweepExperiment):
    """Two pi/2 pulses driven ``detuning`` off the qubit: fringes decaying with T2*."""

    defaults: ClassVar[dict[str, Any]] = {"start": 0.0, "stop": 20e-6, "points": 101,
                                          "detuning": 1.0e6, "frequency": None, **_COMMON}
    axis, axis_unit, plotted = "delay", "s", "i"
    curve = ("damped_cosine", {"frequency": "fringe_frequency", "decay_time": "t2_star"})

    def validate(self) -> None:
        super().validate()
        self.require(self.config["start"] >= 0, "delays cannot be negative")

    def measure(self, station: Any, points: np.ndarray) -> np.ndarray:
        return station.ramsey(points, self.config["reps"], detuning=self.config["detuning"],
                              frequency=self.config["frequency"])

    def fit(self, data: dict[str, np.ndarray]) -> dict[str, Any]:
        signal = fits.principal_component(data["i"] + 1j * data["q"])
        fringes = fits.damped_cosine(data["delay"], signal)
        return {"fringe_frequency": fringes["frequency"], "t2_star": fringes["decay_time"]}


BUILTIN = (ResonatorSpectroscopy, QubitSpectroscopy, Rabi, T1, Ramsey)
