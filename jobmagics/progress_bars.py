"""Progress without calling ``progress()``: inside a job, every ``tqdm`` bar reports to the
job's ``progress`` and ``stage`` by itself ("fitting 40/100"; nested bars as one fraction and
"epoch 2/5 · batch 40/100"), at most ``REPORTS_PER_S`` times a second, through
``jobmagics.progress`` (so on a batch system it goes through the report files too).

How it gets there without the job importing anything: ``install()`` puts an import hook on
``sys.meta_path`` that patches ``tqdm.std.tqdm`` (the base of tqdm.auto's and
tqdm.notebook's bars) right after tqdm is imported; a job that never imports tqdm pays one
name comparison per import. It is called where a job starts in a Python process the worker
controls (the runners of python, function and experiment jobs, forked or not, and
``context.enter_job`` in kernels); a command job gets ``job_site/sitecustomize.py`` on its
PYTHONPATH, which loads this file by its path (no jobmagics import until the first report) in
any Python the command starts while ``JOBMAGICS_JOB_ID`` is set.

Nothing here imports jobmagics at module level, and no failure of a report ever reaches the
job's loop."""
from __future__ import annotations

import importlib
import os
import sys
import time

# Not ``from typing import TYPE_CHECKING``: typing, functools, importlib.abc (which import
# collections, pathlib, ...) would cost every Python a command job starts tens of ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType
    from typing import Any

    Report = Callable[[float | None, str | None], None]

REPORTS_PER_S = 4
_INTERVAL_S = 1.0 / REPORTS_PER_S
_TQDM_MODULE = "tqdm.std"
_state: dict[str, Any] = {"broken": False, "root": None, "report": None}
_due = [0.0]           # when the next report may go (monotonic); a list: read in the hot path


def install(report: Report | None = None, jobmagics_root: str | None = None) -> None:
    """Make tqdm bars in this process report to the job it runs through ``report``
    (``jobmagics.progress``; None: imported at the first report, from ``jobmagics_root`` if
    this Python cannot import jobmagics otherwise: a command's own Python loading this file by
    its path). Idempotent; a new job in the same process starts with a fresh throttle."""
    _state["broken"] = False
    _due[0] = 0.0
    if report is not None:
        _state["report"] = report
    if jobmagics_root is not None:
        _state["root"] = jobmagics_root
    module = sys.modules.get(_TQDM_MODULE)
    if module is not None:
        _patch(module)
    elif not any(isinstance(f, _TqdmFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _TqdmFinder())


class _TqdmFinder:
    """Finds ``tqdm.std`` as the other finders would, and patches it once it has run (a
    meta path finder; not an ``importlib.abc`` subclass, whose import costs ~30 ms)."""

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname != _TQDM_MODULE:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None and spec.loader is not None:
                spec.loader = _PatchingLoader(spec.loader)  # type: ignore[assignment]
                return spec
        return None


class _PatchingLoader:
    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        created: ModuleType | None = self._loader.create_module(spec)
        return created

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _patch(module)

    def __getattr__(self, name: str) -> Any:      # get_source, get_filename, ... as before
        return getattr(self._loader, name)


def _patch(module: ModuleType) -> None:
    bar_class = getattr(module, "tqdm", None)
    if bar_class is None or getattr(bar_class, "_jobmagics_reports", False):
        return
    bar_class.update = _reporting_update(bar_class.update)
    bar_class.close = _reporting_close(bar_class.close)
    bar_class._jobmagics_reports = True


def _reporting_update(update: Callable[..., Any]) -> Callable[..., Any]:
    """``update`` runs in the job's tightest loops: one clock read and a compare on top."""
    clock, due = time.monotonic, _due

    def wrapper(bar: Any, n: float = 1) -> Any:
        shown = update(bar, n)
        if clock() >= due[0] and not bar.disable:
            _report(bar, closing=False)
        return shown
    return _wraps(wrapper, update)


def _reporting_close(close: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(bar: Any) -> Any:
        if not getattr(bar, "disable", True):
            _report(bar, closing=True)       # before close: the bar still counts as live
        return close(bar)
    return _wraps(wrapper, close)


def _wraps(wrapper: Callable[..., Any], method: Callable[..., Any]) -> Callable[..., Any]:
    """``functools.wraps`` without importing functools (see TYPE_CHECKING above)."""
    wrapper.__name__, wrapper.__qualname__ = method.__name__, method.__qualname__
    wrapper.__doc__, wrapper.__wrapped__ = method.__doc__, method  # type: ignore[attr-defined]
    return wrapper


def _report(bar: Any, closing: bool) -> None:
    """Throttled; a closing bar is reported at once only if it is the last one open (the
    final count of the job's outermost bar), so many short inner bars write nothing extra."""
    if _state["broken"]:
        return
    try:
        bars = _live_bars(bar)
        now = time.monotonic()
        if now < _due[0] and not (closing and len(bars) == 1):
            return
        _due[0] = now + _INTERVAL_S
        fraction, stage = describe(bars)
        _progress()(fraction, stage)
    except Exception:  # noqa: BLE001 - a report must never break the job's own loop
        _state["broken"] = True      # and the loop pays nothing more for it
        _due[0] = float("inf")


def _live_bars(bar: Any) -> list[Any]:
    """The bars now open in this process, outermost first (tqdm's own ``pos``)."""
    instances = getattr(type(bar), "_instances", None) or ()
    bars = [b for b in list(instances) if not getattr(b, "disable", True)]
    if bar not in bars:
        bars.append(bar)
    return sorted(bars, key=lambda b: abs(getattr(b, "pos", 0) or 0))


def describe(bars: Sequence[Any]) -> tuple[float | None, str]:
    """(fraction, stage) of nested bars, outermost first: the fraction counts the inner bars'
    part of the current outer step ('epoch 2/5' at 'batch 50/100' is 0.5 of 1/5 past 2/5)."""
    stage = " · ".join(_bar_text(b) for b in bars)
    fraction: float | None = None
    scale, base = 1.0, 0.0
    for bar in bars:
        total = getattr(bar, "total", None)
        if not total:
            break
        done = min(max(float(bar.n) / float(total), 0.0), 1.0)
        fraction = base + scale * done
        base, scale = fraction, scale / float(total)
    return (None if fraction is None else min(fraction, 1.0)), stage


def _bar_text(bar: Any) -> str:
    desc = str(getattr(bar, "desc", "") or "").strip().rstrip(":").strip()
    count = _number(bar.n) + (f"/{_number(bar.total)}" if getattr(bar, "total", None) else "")
    return f"{desc} {count}" if desc else count


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3g}"


def _progress() -> Report:
    """What reports: given to ``install``, or ``jobmagics.progress`` imported now (by name:
    jobmagics.context imports this module), from ``root`` if this Python cannot import
    jobmagics otherwise."""
    if _state["report"] is None:
        try:
            context = importlib.import_module("jobmagics.context")
        except ImportError:
            root = _state["root"]
            if not root or not os.path.isdir(root):
                raise
            sys.path.append(root)
            context = importlib.import_module("jobmagics.context")
        _state["report"] = context.progress
    report: Report = _state["report"]
    return report
