"""An experiment's class and config checked at submit, with the worker's own functions.

Every door reaches ``Queue._spec``, which calls ``check_at_submit``: the class is imported
(from the job's folder first, as the worker will) and built with the config, exactly as the
worker builds it before it touches the station (``configured``), so a refusal here says what
the worker would say, word for word, and nothing is queued. Building an ``Experiment`` only
merges and checks its config: the station reaches it in ``setup``/``run``.

Where the class cannot be imported in this process (its module is on the worker's side only,
or needs a driver this environment lacks) the job is accepted and its submission event says
so; the worker checks it when it starts, as it always does.

An array checks its class once and each element's config with it (``check_elements``); a
class is imported again only when its module's file changed (a notebook user edits the lab's
module between submits and expects the new defaults)."""
from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidJob
from ..store.jobs import UNCHECKED
from .loading import experiment_class, import_aside, import_failure, split_target

_MAX_REASON = 300


def configured(cls: type, config: Mapping[str, Any]) -> Any:
    """The experiment object the worker runs: ``cls(config)`` (defaults merged, types and
    ``validate()`` ranges checked). The worker and the submit check both call this."""
    return cls(dict(config))


@dataclass(frozen=True)
class _Found:
    cls: type
    file: str | None
    signature: tuple[int, int] | None


_CLASSES: dict[tuple[str, str], _Found] = {}


def _signature(file: str | None) -> tuple[int, int] | None:
    try:
        info = os.stat(file) if file else None
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size) if info else None


def _cached(target: str, cwd: str) -> type | None:
    found = _CLASSES.get((target, cwd))
    if found is None or found.signature is None or _signature(found.file) != found.signature:
        return None
    return found.cls


def not_importable_here(target: str, cwd: str | None) -> str | None:
    """Why the module of ``target`` cannot be found from ``cwd`` and this environment (None:
    it can). Looks for its top-level package only; nothing is imported."""
    module_name, _ = split_target(target)
    top = module_name.split(".")[0]
    if top in sys.modules or top in sys.builtin_module_names:
        return None
    search = [cwd, *sys.path] if cwd else list(sys.path)
    if importlib.machinery.PathFinder.find_spec(top, [p or "." for p in search]) is not None:
        return None
    where = f"{cwd} or " if cwd else ""
    return f"no module named {top!r} in {where}this Python environment"


def find_class(target: str, cwd: str) -> tuple[type | None, str | None]:
    """(the class, None), or (None, why it could not be imported here). A module that is
    imported but lacks the class, or a class that is no experiment, is refused with the
    worker's message (``InvalidJob``)."""
    cached = _cached(target, cwd)
    if cached is not None:
        return cached, None
    missing = not_importable_here(target, cwd)
    if missing is not None:
        return None, missing
    module_name, _ = split_target(target)
    try:
        module = import_aside(module_name, [cwd])
    except SyntaxError as exc:       # the very file the worker will read: refused as it would
        raise InvalidJob(import_failure(module_name, exc)) from None
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - the worker's side may differ
        return None, f"importing {module_name} here failed ({type(exc).__name__}: {exc})"
    cls = experiment_class(module, target)       # the worker's lookup: its refusals
    file = getattr(module, "__file__", None)
    _CLASSES[(target, cwd)] = _Found(cls, file, _signature(file))
    return cls, None


def check_config(cls: type, target: str, config: Mapping[str, Any]) -> None:
    """Build the experiment as the worker will; its refusal is the worker's message. A check
    that crashes (a bug in ``validate``) is refused too, naming the class."""
    try:
        configured(cls, config)
    except InvalidJob:
        raise
    except Exception as exc:  # noqa: BLE001 - the lab's validate() may raise anything
        raise InvalidJob(f"checking the config of {target} failed:"
                         f" {type(exc).__name__}: {exc}") from None


def check_at_submit(experiment: dict[str, Any], cwd: str) -> type | None:
    """Check a submitted experiment (``{"target", "config"}``, its config already plain JSON)
    as the worker will; returns its class. Not importable here: the reason goes under
    ``UNCHECKED`` (for the submission's event) and None is returned."""
    target = experiment["target"]
    experiment.pop(UNCHECKED, None)         # only this check says so
    cls, reason = find_class(target, cwd)
    if cls is None:
        experiment[UNCHECKED] = (reason or "")[:_MAX_REASON]
        return None
    check_config(cls, target, experiment.get("config") or {})
    return cls


def check_elements(first: Any, elements: Sequence[Any]) -> None:
    """Each element's config of an experiment array whose ``first`` spec passed
    ``check_at_submit``: the class is found once (not imported again), each distinct config
    built once."""
    experiment = first.experiment or {}
    if UNCHECKED in experiment:
        return                                  # the worker checks them
    target = experiment["target"]
    cls, _ = find_class(target, first.cwd)
    if cls is None:
        return
    seen: set[str] = set()
    for spec in elements:
        config = (spec.experiment or {}).get("config") or {}
        key = repr(sorted(config.items()))
        if key not in seen:
            seen.add(key)
            check_config(cls, target, config)
