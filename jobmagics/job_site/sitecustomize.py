"""On the PYTHONPATH of a command job (``kernel_worker.executors.subprocess.job_environment``):
any Python the command starts while ``JOBMAGICS_JOB_ID`` is set has its tqdm bars report to
the job (``jobmagics/progress_bars.py``, loaded by its path: nothing of jobmagics is imported
until a bar reports). Then the ``sitecustomize`` this one shadows, if there is one, runs as
it would have. Never raises: a command's Python must start whatever happens here."""
from __future__ import annotations

import os
import sys


def _report_progress_bars(here: str) -> None:
    # importlib.machinery is loaded already (importlib.util is not: ~6 ms more per start)
    import importlib.machinery
    import types
    package = os.path.dirname(here)
    name = "_jobmagics_progress_bars"
    loader = importlib.machinery.SourceFileLoader(name, os.path.join(package, "progress_bars.py"))
    module = types.ModuleType(name)
    module.__file__, module.__loader__ = loader.path, loader
    sys.modules[name] = module
    loader.exec_module(module)
    module.install(jobmagics_root=os.path.dirname(package))


def _run_the_shadowed_sitecustomize(here: str) -> None:
    """Found on the path without this folder and run as a module of its own (this one stays
    ``sys.modules["sitecustomize"]``: the import system pops that name once this file ran)."""
    import importlib.machinery
    import types
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = types.ModuleType(spec.name)
    module.__file__, module.__spec__, module.__loader__ = spec.origin, spec, spec.loader
    spec.loader.exec_module(module)


def _main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    if os.environ.get("JOBMAGICS_JOB_ID"):
        try:  # noqa: SIM105 - contextlib.suppress: importing contextlib costs ~10 ms a start
            _report_progress_bars(here)
        except Exception:  # noqa: BLE001, S110 - a job's Python starts even if this fails
            pass
    _run_the_shadowed_sitecustomize(here)


_main()
