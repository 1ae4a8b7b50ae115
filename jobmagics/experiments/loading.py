"""Finding the experiment class a job names as ``module:Class``, with errors a user can act on."""
from __future__ import annotations

import importlib
import importlib.util
import inspect
from typing import Any

from ..errors import InvalidJob


def split_target(target: str) -> tuple[str, str]:
    module_name, _, class_name = str(target).partition(":")
    if not module_name or not class_name:
        raise InvalidJob(f"an experiment names its class as 'module:Class', not {target!r}")
    return module_name, class_name


def load_experiment_class(target: str) -> type:
    """Import ``module:Class``; the class needs a ``run(station, data)`` method."""
    module_name, class_name = split_target(target)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - whatever the import raised, the user must read it
        raise InvalidJob(f"cannot import module {module_name}: {type(exc).__name__}: {exc}") from None
    found: Any = module
    for part in class_name.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise InvalidJob(f"module {module_name} has no class {class_name}"
                             f" (its experiments: {', '.join(experiment_names(module)) or 'none'})")
    if not inspect.isclass(found):
        raise InvalidJob(f"{target} is a {type(found).__name__}, not a class")
    if not callable(getattr(found, "run", None)):
        raise InvalidJob(f"{target} has no run(station, data) method: subclass jobmagics.experiments.Experiment")
    return found


def experiment_names(module: Any) -> list[str]:
    from .base import Experiment
    return sorted(name for name, value in vars(module).items()
                  if inspect.isclass(value) and not name.startswith("_") and value is not Experiment
                  and callable(getattr(value, "run", None)))


def check_target(target: str) -> None:
    """Submit-time check: the module can be found here (it is imported only by the worker).

    Only the module is looked for, without running its code; the class is checked when the
    job starts. Packages on the worker's path but not the submitter's are rare in a lab that
    shares one machine; when they happen, skip this check."""
    module_name, _ = split_target(target)
    try:
        spec = importlib.util.find_spec(module_name)
    except Exception as exc:  # noqa: BLE001 - a broken parent package is the user's to see
        raise InvalidJob(f"cannot import module {module_name}: {type(exc).__name__}: {exc}") from None
    if spec is None:
        raise InvalidJob(f"cannot import module {module_name}: no module named {module_name!r}"
                         " (is it in the notebook's folder or installed in this environment?)")
