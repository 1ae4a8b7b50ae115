"""The units of a job's resources, as plain data: what it holds (``gpu 0,2``) and why a
pending job cannot start anywhere (it asks for more units than any worker has)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .checks import resource_counts
from .model import JobRecord, State


def units_text(units: Mapping[str, Sequence[str]] | None) -> str:
    """``gpu 0,2; qick a`` or ``-``."""
    if not units:
        return "-"
    return "; ".join(f"{name} {','.join(held)}" for name, held in sorted(units.items()))


def unit_shortfall(record: JobRecord, workers: Sequence[Mapping[str, Any]]) -> str | None:
    """Why this pending job waits whatever ends, in one line: a resource it asks more units of
    than any live worker declares (or that no worker serves); None if some worker could run
    it once its units are free. ``workers``: as ``Queue.workers()`` lists them."""
    if record.state is not State.PENDING or not record.resources:
        return None
    for name, count in sorted(resource_counts(record.resources).items()):
        most = max((w["resources"].get(name, 0) for w in workers), default=0)
        if most == 0:
            return f"no worker serves {name} (start one with --resource {name}=N)"
        if count > most:
            return (f"asks for {count} units of {name}; the most any worker has is {most}"
                    f" (--resource {name}=N on a worker with more, or jobmagics set --resource)")
    return None
