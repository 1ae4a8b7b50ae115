"""The live plot in a job widget: the job's data (``data/<id>.h5``, written live by
experiments) drawn with matplotlib into a PNG ``ipywidgets.Image`` as points arrive, with the
experiment's fit drawn over it once the run stored one (its ``fit`` attribute), and the run's
summary (the fit's numbers, what ``job.result()`` returns) read beside it.

Drawn on the poller thread with a bare ``Figure`` (no pyplot state, so it never touches the
notebook's figures), at most once a second, and only when the file changed: a job without
a data file costs one ``stat`` per tick."""
from __future__ import annotations

import contextlib
import io
import os
import time
from typing import TYPE_CHECKING, Any

import ipywidgets as w

if TYPE_CHECKING:
    from ..job import Job

MIN_INTERVAL_S = 1.0


class DataPlot:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.image = w.Image(format="png", layout=w.Layout(display="none", max_width="32em"))
        self.error = ""
        self.summary: dict[str, Any] = {}     # the run's summary, once its file has one
        self._stamp: tuple[int, int] | None = None
        self._next = 0.0

    def update(self, final: bool = False) -> bool:
        """Redraw if the data changed (and a second passed, unless ``final``); True if drawn."""
        try:
            stat = os.stat(self.job.data_path)
        except FileNotFoundError:
            return False
        stamp = (stat.st_size, stat.st_mtime_ns)
        if stamp == self._stamp or (not final and time.monotonic() < self._next):
            return False
        self._stamp, self._next = stamp, time.monotonic() + MIN_INTERVAL_S
        png = self._render()
        if png is None:
            return False
        self.image.value = png
        self.image.layout.display = ""
        return True

    def _render(self) -> bytes | None:
        try:
            png, self.summary = data_png(self.job)
            return png
        except Exception as exc:  # noqa: BLE001 - a half-written file is read again next time
            self.error = f"{type(exc).__name__}: {exc}"
            self._stamp = None
            return None

    def close(self) -> None:
        self.image.close()


def data_png(job: Job) -> tuple[bytes | None, dict[str, Any]]:
    """The job's data drawn as a PNG (None: no points yet) with its fit over the plotted
    column, and the run's summary. Raises what reading a half-written file raises."""
    from matplotlib.figure import Figure

    from ..data import load
    data = load(job)
    if data.points == 0:
        return None, data.summary
    figure = Figure(figsize=(5, 3), dpi=80)
    ax = data.plot(ax=figure.subplots())
    _draw_fit(ax, data.attrs.get("fit"), data)
    with contextlib.suppress(Exception):
        figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue(), data.summary


def _draw_fit(ax: Any, curve: Any, data: Any) -> None:
    """The stored fit (``experiments.fits.fitted_curve``) as a line over its column."""
    if not isinstance(curve, dict) or curve.get("x") not in data:
        return
    from ..experiments.fits import sample
    x = data[curve["x"]]
    if len(x) == 0:
        return
    drawn = sample(curve, float(x.min()), float(x.max()))
    ax.plot(drawn["x"], drawn[str(curve["y"])], "-", color="black", linewidth=1.2,
            label=f"fit ({curve.get('model', '')})")
    ax.legend()
