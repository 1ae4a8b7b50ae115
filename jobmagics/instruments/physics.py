"""The physics of the simulated device: one transmon qubit read out through a resonator.

Pure functions of the device parameters, so experiments, fits and tests can all reason about
the same model. Frequencies in Hz, times in seconds."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from ..errors import InvalidJob


@dataclass(frozen=True)
class DeviceParameters:
    """What a lab would calibrate; the defaults look like a typical 3D/planar transmon."""

    resonator_frequency: float = 7.0125e9
    resonator_linewidth: float = 1.6e6          # kappa / 2 pi
    coupling_ratio: float = 0.85                # kappa_ext / kappa: how deep the dip is
    dispersive_shift: float = -1.2e6            # the resonator's move when the qubit is excited
    electrical_delay: float = 42e-9             # cables: a phase that rolls with frequency
    qubit_frequency: float = 5.1234e9
    rabi_frequency_at_full_amplitude: float = 25e6
    rabi_decay_time: float = 1.2e-6
    t1: float = 32e-6
    t2_star: float = 18e-6
    thermal_population: float = 0.02
    readout_noise: float = 0.6                  # single-shot noise / ground-excited separation
    spectroscopy_noise: float = 0.25            # single-shot noise / transmission off resonance

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> DeviceParameters:
        """Build from a (named, versioned) config; unknown names are a clear error."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidJob(f"unknown device parameter {unknown[0]!r};"
                             f" known: {', '.join(sorted(known))}")
        try:
            params = replace(cls(), **{k: float(v) for k, v in values.items()})
        except (TypeError, ValueError) as exc:
            raise InvalidJob(f"device parameters must be numbers: {exc}") from None
        positive = ("resonator_frequency", "resonator_linewidth", "qubit_frequency", "t1",
                    "t2_star")
        for name in positive:
            if not getattr(params, name) > 0:
                raise InvalidJob(f"device parameter {name} must be positive")
        return params

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def transmission(frequency: np.ndarray, p: DeviceParameters,
                 excited: np.ndarray | float = 0.0) -> np.ndarray:
    """Complex S21 of a notch-type resonator, averaged over the qubit being in g or e."""
    frequency = np.asarray(frequency, dtype=float)
    cable = np.exp(-2j * np.pi * frequency * p.electrical_delay)

    def notch(centre: float) -> np.ndarray:
        return 1 - p.coupling_ratio / (1 + 2j * (frequency - centre) / p.resonator_linewidth)

    excited = np.asarray(excited, dtype=float)
    ground_dip = notch(p.resonator_frequency)
    excited_dip = notch(p.resonator_frequency + p.dispersive_shift)
    return cable * ((1 - excited) * ground_dip + excited * excited_dip)


def driven_population(detuning: np.ndarray | float, rabi_frequency: float,
                      duration: np.ndarray | float, decay_time: float) -> np.ndarray:
    """Excited population after a square drive pulse (Rabi formula, damped towards 1/2)."""
    detuning = np.asarray(detuning, dtype=float)
    duration = np.asarray(duration, dtype=float)
    generalized = np.hypot(rabi_frequency, detuning)
    safe = np.where(generalized > 0, generalized, 1.0)
    contrast = np.where(generalized > 0, (rabi_frequency / safe) ** 2, 0.0)
    oscillation = np.cos(2 * np.pi * generalized * duration)
    damping = np.exp(-duration / decay_time)
    return 0.5 * contrast * (1 - damping * oscillation)


def relaxed_population(delay: np.ndarray | float, p: DeviceParameters) -> np.ndarray:
    """After a pi pulse, the qubit decays towards its thermal population with T1."""
    delay = np.asarray(delay, dtype=float)
    return p.thermal_population + (1 - p.thermal_population) * np.exp(-delay / p.t1)


def ramsey_population(delay: np.ndarray | float, frequency_offset: float,
                      p: DeviceParameters) -> np.ndarray:
    """Two pi/2 pulses separated by ``delay``: fringes at the drive detuning, decaying with T2*."""
    delay = np.asarray(delay, dtype=float)
    return 0.5 * (1 - np.exp(-delay / p.t2_star) * np.cos(2 * np.pi * frequency_offset * delay))


def readout_points(p: DeviceParameters, readout_frequency: float) -> tuple[complex, complex]:
    """The averaged IQ values for 'qubit in g' and 'qubit in e' at the readout frequency."""
    ground = complex(transmission(np.array([readout_frequency]), p, 0.0)[0])
    excited = complex(transmission(np.array([readout_frequency]), p, 1.0)[0])
    return ground, excited
