"""Experiments: measurements that run on the station through the queue.

    q.submit(experiment="jobmagics.experiments:Rabi", config={"amplitude": 0.4})

Subclass ``Experiment`` for your own; the built-ins (``ResonatorSpectroscopy``,
``QubitSpectroscopy``, ``Rabi``, ``T1``, ``Ramsey``) run on ``SimulatedStation`` out of the
box. ``run_experiment`` is what workers call to run one experiment job."""
from __future__ import annotations

from .base import Experiment, merged_config
from .builtin import BUILTIN, T1, QubitSpectroscopy, Rabi, Ramsey, ResonatorSpectroscopy
from .loading import load_experiment_class
from .run import build_snapshot, run_experiment

__all__ = [
    "BUILTIN",
    "T1",
    "Experiment",
    "QubitSpectroscopy",
    "Rabi",
    "Ramsey",
    "ResonatorSpectroscopy",
    "build_snapshot",
    "load_experiment_class",
    "merged_config",
    "run_experiment",
]
