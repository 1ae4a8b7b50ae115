"""Serialising function calls and their results (cloudpickle)."""
from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cloudpickle

from .errors import InvalidJob, PermissionDenied, ResultNotSent

MAX_PAYLOAD = 256 * 1024 * 1024


def dump_function(function: Callable[..., Any], args: Sequence[Any],
                  kwargs: Mapping[str, Any]) -> bytes:
    if not callable(function):
        raise InvalidJob(f"function must be callable, not {type(function).__name__}")
    name = getattr(function, "__qualname__", repr(function))
    try:
        blob = cloudpickle.dumps((function, tuple(args), dict(kwargs)))
    except Exception as exc:  # noqa: BLE001 - any pickling failure is the user's input
        raise InvalidJob(f"cannot send {name}(...) to the queue:"
                         f" {type(exc).__name__}: {exc}") from None
    if len(blob) > MAX_PAYLOAD:
        raise InvalidJob(f"{name}(...) pickles to {len(blob) >> 20} MiB;"
                         " pass file paths instead of big data")
    return blob


def dump_variables(names: Sequence[str], namespace: Mapping[str, Any]) -> bytes:
    """Pickle the named variables; a clear error names the one that cannot be sent."""
    values = {}
    for name in names:
        if name not in namespace:
            raise InvalidJob(f"cannot push {name!r}: no such variable in the notebook")
        try:
            cloudpickle.dumps(namespace[name])
        except Exception as exc:  # noqa: BLE001
            raise InvalidJob(f"cannot push {name!r}: {type(exc).__name__}: {exc}") from None
        values[name] = namespace[name]
    return cloudpickle.dumps(values)


def load(blob: bytes) -> Any:
    return pickle.loads(blob)


def dump_value(value: Any, what: str) -> bytes:
    """Pickle what a job sends back; ``ResultNotSent`` says why it cannot be (``what``: e.g.
    "its return value"). A value the caller can never have makes the job fail, not complete."""
    try:
        return cloudpickle.dumps(value)
    except Exception as exc:  # noqa: BLE001 - any pickling failure: the value cannot come back
        raise ResultNotSent(f"{what} could not be pickled: {type(exc).__name__}: {exc}") from None


def dump_pulled(names: Sequence[str], namespace: Mapping[str, Any]) -> bytes:
    """The ``--pull`` variables of a finished python job (the one implementation for the
    subprocess and kernel paths)."""
    missing = [name for name in names if name not in namespace]
    if missing:
        raise ResultNotSent(f"cannot pull {', '.join(missing)}: not defined by the job")
    for name in names:
        dump_value(namespace[name], f"cannot pull {name!r}: its value")
    return dump_value({name: namespace[name] for name in names}, "the pulled variables")


def dump_exception(exc: BaseException) -> bytes:
    """Pickle a job's exception for ``result()``; an unpicklable one degrades to a described
    RuntimeError (a value that cannot be pickled fails the job instead: ``dump_value``)."""
    try:
        return cloudpickle.dumps(exc)
    except Exception as error:  # noqa: BLE001
        return cloudpickle.dumps(RuntimeError(f"the job's exception could not be pickled:"
                                              f" {error}; it was {exc!r:.200}"))


def foreign_result(job_id: str, owner: str) -> PermissionDenied:
    """The refusal to read back another account's result (the client's and the service's)."""
    return PermissionDenied(
        f"{job_id} belongs to {owner}: its result was written by {owner}'s code, and reading it"
        " back would run that code as you. If you trust it, ask with result(trust=True)")
