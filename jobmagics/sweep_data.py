"""An experiment sweep's data as one table: ``jobmagics.data.load(array)`` reads every
element's ``data/<id>.h5`` (``ExperimentData``) and ``SweepData`` lines them up, with the
config each element ran with as ``config.<name>`` columns. Plain numpy, no I/O here."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .data import ExperimentData

ARRAY_COLUMNS = ("element", "index")     # the table's own columns; a dataset so named gets data.


@dataclass(repr=False)
class SweepData:
    """An experiment sweep's data as one table (``q.sweep``, or any array of experiments).

    ``arrays`` maps each column name to a numpy array with one row per measured point of every
    element, the elements in index order:

    - every measured dataset, the elements' points one after the other (a dataset named
      ``element`` or ``index`` is the column ``data.element`` / ``data.index``);
    - ``config.<name>`` for each config value the elements were submitted with (swept or from
      ``base``; ``swept`` names those that differ between elements), the element's value on
      each of its rows: a measured dataset of the same name cannot clash with it;
    - ``element`` (the element's job id) and ``index`` (its index in the array).

    ``runs`` holds each element's own ``ExperimentData`` by index; an element with no data
    (yet) has no rows and is listed in ``missing``. Works while the sweep runs."""

    array_id: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    swept: list[str] = field(default_factory=list)
    runs: dict[int, ExperimentData] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        names = ", ".join(self.arrays) or "nothing yet"
        return (f"<SweepData {self.array_id}: {self.points} points of {len(self.runs)} elements"
                f" ({names}){'' if self.complete else '; not complete'}>")

    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self.arrays[name]
        except KeyError:
            raise KeyError(f"no column {name!r} in {self.array_id}'s table; it has"
                           f" {', '.join(self.arrays) or 'none yet'}") from None

    def __contains__(self, name: object) -> bool:
        return name in self.arrays

    def keys(self) -> list[str]:
        return list(self.arrays)

    @property
    def points(self) -> int:
        return len(self.arrays.get("index", ()))

    @property
    def complete(self) -> bool:
        """Every element's run ended and closed its file."""
        return not self.missing and all(run.complete for run in self.runs.values())

    def fill(self, configs: Mapping[int, Mapping[str, Any]]) -> SweepData:
        """Line ``runs`` up as the table's columns; ``configs``: what each element (by index)
        was submitted with."""
        self.swept = _varying(configs.values())
        self.arrays = _columns(self.runs, configs)
        for run in self.runs.values():
            for name, unit in run.units.items():
                self.units.setdefault(_measured_name(name), unit)
        return self

    def plot(self, y: str | None = None, ax: Any = None) -> Any:
        """One trace per element (the measured ``y`` against its sweep axis), labelled with
        its swept values (matplotlib); returns the axes."""
        import matplotlib.pyplot as plt

        ax = ax if ax is not None else plt.subplots()[1]
        for run in self.runs.values():
            x_name = str(run.attrs.get("plot_x") or next(iter(run.arrays), ""))
            shown = y or next(iter(run.attrs.get("plot_y") or [k for k in run.arrays
                                                               if k != x_name]), x_name)
            label = ", ".join(f"{n}={run.config.get(n)}" for n in self.swept) or run.job_id
            ax.plot(run[x_name], run[shown], ".-", label=label)
            ax.set_xlabel(f"{x_name} ({run.units[x_name]})" if x_name in run.units else x_name)
            ax.set_ylabel(shown)
        ax.set_title(self.array_id)
        ax.legend(fontsize="small")
        return ax


def _measured_name(name: str) -> str:
    return f"data.{name}" if name in ARRAY_COLUMNS else name


def _varying(configs: Iterable[Mapping[str, Any]]) -> list[str]:
    """The config names whose values are not the same in every element."""
    found: dict[str, list[Any]] = {}
    for config in configs:
        for name, value in config.items():
            found.setdefault(name, []).append(value)
    return [n for n, values in found.items() if any(v != values[0] for v in values)]


def _columns(runs: Mapping[int, ExperimentData],
             configs: Mapping[int, Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """The table's columns: measured datasets every element has, ``config.*``, element, index."""
    filled = [run for run in runs.values() if run.arrays]
    measured = [name for name in (filled[0].arrays if filled else {})
                if all(name in run.arrays for run in filled)]
    scalar = [name for name in dict.fromkeys(n for c in configs.values() for n in c)
              if all(_is_scalar(c.get(name)) for c in configs.values())]
    columns: dict[str, list[np.ndarray]] = {}
    for index, run in runs.items():
        rows = run.points if run.arrays else 0
        for name in measured:
            columns.setdefault(_measured_name(name), []).append(run.arrays[name][:rows])
        for name in scalar:
            columns.setdefault(f"config.{name}", []).append(
                np.full(rows, configs[index].get(name)))
        columns.setdefault("element", []).append(np.full(rows, run.job_id or ""))
        columns.setdefault("index", []).append(np.full(rows, index, dtype=np.int64))
    return {name: np.concatenate(parts) for name, parts in columns.items()}


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))
