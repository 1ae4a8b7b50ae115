"""A system queue's service: clients send every change over a Unix socket in the queue folder,
and the service, which learns each caller from the kernel, applies the rules and writes.

``remote`` is what clients load (every ``Queue`` may need it); the server side (``server``,
``operations``, ``group_commit``) loads only in the service, when ``serve`` is first used."""
from __future__ import annotations

from typing import Any

from ..errors import ServiceUnavailable
from .remote import RemoteStore
from .unit import unit_name

__all__ = ["RemoteStore", "Service", "ServiceUnavailable", "serve", "unit_name"]


def __getattr__(name: str) -> Any:
    if name in ("Service", "serve"):
        from . import server
        return getattr(server, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
