"""Finding the experiment class a job names as ``module:Class``, with errors a user can act on."""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import InvalidJob


def split_target(target: str) -> tuple[str, str]:
    module_name, _, class_name = str(target).partition(":")
    if not module_name or not class_name:
        raise InvalidJob(f"an experiment names its class as 'module:Class', not {target!r}")
    return module_name, class_name


@contextmanager
def _searching(folders: Sequence[str]) -> Iterator[None]:
    """The job's folder first on the path, as ``python -m`` would have it, for this import only."""
    added = [f for f in folders if f and f not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for folder in added:
            if folder in sys.path:
                sys.path.remove(folder)


def import_fresh(module_name: str, folders: Sequence[str] = ()) -> Any:
    """Import a module; one imported earlier in this process is reloaded, so a long-lived
    kernel runs the code as it is on disk now (the snapshot hashes that file)."""
    try:
        return import_or_reload(module_name, folders)
    except Exception as exc:  # noqa: BLE001 - whatever the import raised, the user must read it
        raise InvalidJob(import_failure(module_name, exc)) from None


def import_or_reload(module_name: str, folders: Sequence[str] = ()) -> Any:
    """``import_fresh`` raising what the import raised."""
    with _searching(folders):
        already = sys.modules.get(module_name)
        if already is not None and not module_name.startswith("jobmagics"):
            return importlib.reload(already)
        return importlib.import_module(module_name)


def import_aside(module_name: str, folders: Sequence[str] = ()) -> Any:
    """The module as it is on disk now, for a look at its classes, leaving the process's own
    alone: one this process imported already (a notebook's ``import mylab``, holding its
    state) is run again as a private copy, never reloaded in place. Raises what the import
    raised."""
    with _searching(folders):
        already = sys.modules.get(module_name)
        if already is None or module_name.startswith("jobmagics"):
            return importlib.import_module(module_name)
        spec = importlib.util.find_spec(module_name)
        if spec is None or spec.loader is None:
            return already
        private = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(private)
        return private


def import_failure(module_name: str, exc: BaseException) -> str:
    """The worker's words for a module that failed to import."""
    return f"cannot import module {module_name}: {type(exc).__name__}: {exc}"


def load_experiment_class(target: str, folders: Sequence[str] = ()) -> type:
    """Import ``module:Class`` (looking in ``folders`` first); it needs ``run(station, data)``."""
    return experiment_class(import_fresh(split_target(target)[0], folders), target)


def experiment_class(module: Any, target: str) -> type:
    """The class ``target`` names in its imported ``module``, or the worker's refusal."""
    module_name, class_name = split_target(target)
    found: Any = module
    for part in class_name.split("."):
        found = getattr(found, part, None)
        if found is None:
            known = ", ".join(experiment_names(module)) or "none"
            raise InvalidJob(f"module {module_name} has no class {class_name}"
                             f" (its experiments: {known})")
    if not inspect.isclass(found):
        raise InvalidJob(f"{target} is a {type(found).__name__}, not a class")
    if not callable(getattr(found, "run", None)):
        raise InvalidJob(f"{target} has no run(station, data) method: subclass"
                         " jobmagics.experiments.Experiment")
    return found


def experiment_names(module: Any) -> list[str]:
    """The public classes of ``module`` that could be run, but the ``Experiment`` base itself.
    The base is looked up rather than imported: it sits above the client (it reports progress
    and writes data), which imports this module to check targets at submit. If the base was
    never loaded, ``module`` cannot hold it either."""
    base = getattr(sys.modules.get(f"{__package__}.base"), "Experiment", None)
    return sorted(name for name, value in vars(module).items()
                  if inspect.isclass(value) and not name.startswith("_") and value is not base
                  and callable(getattr(value, "run", None)))
