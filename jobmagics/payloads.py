"""Serialising function calls and their results (cloudpickle)."""
from __future__ import annotations

import pickle
from typing import Any, Callable, Mapping, Sequence

import cloudpickle

from .errors import InvalidJob

MAX_PAYLOAD = 256 * 1024 * 1024


def dump_function(function: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> bytes:
    if not callable(function):
        raise InvalidJob(f"function must be callable, not {type(function).__name__}")
    name = getattr(function, "__qualname__", repr(function))
    try:
        blob = cloudpickle.dumps((function, tuple(args), dict(kwargs)))
    except Exception as exc:  # noqa: BLE001 - any pickling failure is the user's input
        raise InvalidJob(f"cannot send {name}(...) to the queue: {type(exc).__name__}: {exc}") from None
    if len(blob) > MAX_PAYLOAD:
        raise InvalidJob(f"{name}(...) pickles to {len(blob) >> 20} MiB; pass file paths instead of big data")
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


def dump_result(ok: bool, value: Any) -> bytes:
    """Pickle a return value or an exception; unpicklable ones degrade to a described error."""
    try:
        return cloudpickle.dumps(value)
    except Exception as exc:  # noqa: BLE001
        kind = "result" if ok else "exception"
        return cloudpickle.dumps(RuntimeError(f"the job's {kind} could not be pickled: {exc}; it was {value!r:.200}"))
