"""Experiments: measurements that run on the station through the queue.

    q.submit(experiment="jobmagics.experiments:Rabi", config={"amplitude": 0.4})

Subclass ``Experiment`` for your own; the built-ins (``ResonatorSpectroscopy``,
``QubitSpectroscopy``, ``Rabi``, ``T1``, ``Ramsey``) run on ``SimulatedStation`` out of the
box. ``run_experiment`` is what workers call to run one experiment job."""
from __future__ import annotations

from .base import Experiment, merged_config
from .builtin import BUILTIN, QubitSpectroscopy, Rabi, Ramsey, ResonatorSpectroscopy, T1
from .loading import check_target, load_experiment_class
from .run import build_snapshot, run_experiment

__all__ = ["Experiment", "ResonatorSpectroscopy", "QubitSpectroscopy", "Rabi", "T1", "Ramsey", "BUILTIN",
           "run_experiment", "build_snapshot", "load_experiment_class", "check_target", "merged_config"]
