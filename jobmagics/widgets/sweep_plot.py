"""The live plot of an experiment sweep: one point per element as each completes, the swept
config value against a scalar of the element's summary (its fit: ``rabi_frequency``, ``t1``,
...), drawn with matplotlib into a PNG ``ipywidgets.Image``.

The swept name is the config entry whose values differ between the elements (several: the last
one, which varies fastest, is the x axis and each value of the others is a trace). An element's
summary is read once, from its data file's attributes (``jobmagics.data``: no pickle is
loaded, so another account's sweep is shown as safely as one's own). Drawn on the poller
thread with a bare ``Figure``, at most once a second unless final."""
from __future__ import annotations

import contextlib
import io
import math
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as w

if TYPE_CHECKING:
    from ..arrays import ArrayRecord
    from ..job import Job
    from ..job_array import JobArray

MIN_INTERVAL_S = 1.0
CONFIGS_READ = 1000          # the swept names are found among this many elements' configs


class SweepPlot:
    """Points ``(x, y)`` of the completed elements of ``array``; ``y`` names the summary's
    entry to plot (None: its first number)."""

    def __init__(self, array: JobArray, y: str | None = None) -> None:
        self.array = array
        self.y = y
        self.image = w.Image(format="png", layout=w.Layout(display="none", max_width="32em"))
        self.points: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}   # id -> config, summary
        self.error = ""
        self._swept: list[str] | None = None
        self._completed = 0
        self._stale = False          # elements completed that were not read yet
        self._dirty = False          # points read that were not drawn yet
        self._next = 0.0

    def update(self, record: ArrayRecord, final: bool = False) -> bool:
        """Read the elements completed since the last look and redraw, at most once a second
        (a big sweep's completed elements are not read again on every change) unless
        ``final``. True if drawn."""
        completed = record.counts.get("completed", 0)
        if completed != self._completed:
            self._completed = completed
            self._stale = True
        if not (self._stale or self._dirty) or (not final and time.monotonic() < self._next):
            return False
        self._next = time.monotonic() + MIN_INTERVAL_S
        if self._stale:
            self._stale = False
            self._read_new_points()
        if not self._dirty:
            return False
        png = self._render()
        if png is None:
            return False
        self._dirty = False
        self.image.value = png
        self.image.layout.display = ""
        return True

    def _read_new_points(self) -> None:
        for job in self.array.elements_page(limit=None, state="completed"):
            if job.id in self.points:
                continue
            summary = _summary(job)
            if summary is not None:
                config = (job.last_read.experiment or {}).get("config") or {}
                self.points[job.id] = (dict(config), summary)
                self._dirty = True

    def swept(self) -> list[str]:
        """The config names whose values differ between the elements."""
        if self._swept is None or len(self._swept) == 0:
            configs = [(j.last_read.experiment or {}).get("config") or {}
                       for j in self.array.elements_page(limit=CONFIGS_READ)]
            names = dict.fromkeys(n for c in configs for n in c)
            self._swept = [n for n in names
                           if len({repr(c.get(n)) for c in configs}) > 1]
        return self._swept

    def series(self) -> tuple[str, str, dict[str, list[tuple[float, float]]]]:
        """(x name, y name, {trace label: sorted points})."""
        swept = self.swept()
        x_name = swept[-1] if swept else "index"
        y_name = self.y or next((k for _, s in self.points.values() for k in s
                                 if _number(s[k]) is not None), "")
        traces: dict[str, list[tuple[float, float]]] = {}
        for job_id, (config, summary) in self.points.items():
            x = _number(config.get(x_name)) if swept else float(job_id.rpartition("_")[2])
            y = _number(summary.get(y_name))
            if x is None or y is None:
                continue
            label = ", ".join(f"{n}={config.get(n)}" for n in swept[:-1])
            traces.setdefault(label, []).append((x, y))
        return x_name, y_name, {k: sorted(v) for k, v in traces.items()}

    def _render(self) -> bytes | None:
        from matplotlib.figure import Figure
        try:
            x_name, y_name, traces = self.series()
            if not traces:
                return None
            figure = Figure(figsize=(5, 3), dpi=80)
            ax = figure.subplots()
            for label, points in traces.items():
                ax.plot([p[0] for p in points], [p[1] for p in points], "o-",
                        label=label or None)
            ax.set_xlabel(x_name)
            ax.set_ylabel(y_name)
            ax.set_title(f"{self.array.id}: {sum(map(len, traces.values()))} of"
                         f" {self.array.last_read.size} points")
            if any(traces):
                ax.legend()
            with contextlib.suppress(Exception):
                figure.tight_layout()
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png")
            return buffer.getvalue()
        except Exception as exc:  # noqa: BLE001 - never raise on the poller thread
            self.error = f"{type(exc).__name__}: {exc}"
            return None

    def close(self) -> None:
        self.image.close()


def _summary(job: Job) -> dict[str, Any] | None:
    """The element's summary from its data file (None: not readable yet, or none)."""
    from ..data import load
    from ..errors import JobmagicsError
    try:
        summary = load(job).summary
    except (JobmagicsError, OSError, KeyError, ValueError):
        return None
    return summary or None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None
