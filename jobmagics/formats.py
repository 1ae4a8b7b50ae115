"""The texts of durations and progress, one format everywhere: the CLI, the widgets, the HTML
cards and (generated from ``EXAMPLES``, checked by its tests) the JupyterLab sidebar."""
from __future__ import annotations

import math

# A tiny lift so that 0.29 (28.999... percent in binary) reads 29 %, in Python and JavaScript.
_EPSILON = 1e-9


def format_duration(seconds: float | None) -> str:
    """"4.2s", "42s", "4m 05s", "2h 03m", "3d 04h"; None -> "-"; negative or NaN -> "0.0s"."""
    if seconds is None:
        return "-"
    if not math.isfinite(seconds) or seconds < 0:
        seconds = 0.0
    if seconds < 10:
        return f"{math.floor(seconds * 10 + _EPSILON) / 10:.1f}s"
    whole = math.floor(seconds)
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def cut(text: str, width: int | None) -> str:
    """``text`` in at most ``width`` characters (None: all of it), cut with "…"."""
    return text if width is None or len(text) <= width else text[:width - 1] + "…"


def progress_percent(progress: float | None) -> int | None:
    """A progress fraction as a whole percentage in 0..100 (rounded down); None stays None."""
    if progress is None or not math.isfinite(progress):
        return None
    return math.floor(min(1.0, max(0.0, progress)) * 100 + _EPSILON)


def progress_text(progress: float | None, stage: str | None) -> str:
    """The text beside a progress bar: "42% sweep 2/5", "sweep 2/5", "42%" or ""."""
    percent = progress_percent(progress)
    parts = [f"{percent}%" if percent is not None else "", stage or ""]
    return " ".join(p for p in parts if p)


# What the sidebar's formatters must give for the same inputs (its tests check every one).
DURATION_EXAMPLES = (0, 0.05, 4.25, 9.99, 10, 42.7, 59.9, 60, 65, 3599, 3600, 3725, 86399,
                     86400, 97200, 400000, -3)
PROGRESS_EXAMPLES = ((None, None), (0.0, None), (0.29, None), (0.425, "sweep 2/5"),
                     (1.0, "done"), (None, "warming up"), (1.5, None), (-0.2, "x"))


def examples() -> dict[str, list[list[object]]]:
    """Input -> text pairs of ``format_duration`` and ``progress_text``."""
    return {"duration": [[s, format_duration(s)] for s in DURATION_EXAMPLES],
            "progress": [[p, s, progress_text(p, s)] for p, s in PROGRESS_EXAMPLES]}
