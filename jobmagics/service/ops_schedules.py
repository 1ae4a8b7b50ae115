"""(being built: issue 12) The service's operations for schedules; merged into
``operations.OPERATIONS``."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .operations import Session  # noqa: F401

OPERATIONS: dict[str, Callable[..., Any]] = {}
