"""A system queue's service: clients send every change over a Unix socket in the queue folder,
and the service, which learns each caller from the kernel, applies the rules and writes."""
from __future__ import annotations

from ..errors import ServiceUnavailable
from .remote import RemoteStore, unit_name
from .server import Service, serve

__all__ = ["RemoteStore", "Service", "ServiceUnavailable", "serve", "unit_name"]
