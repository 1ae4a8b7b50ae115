"""The routes behind the sidebar's dashboard: each resource's header, the live workers, what
runs next, and pausing a resource. (Filled by the dashboard work of issue 13.)"""
from __future__ import annotations

from typing import Any

ROUTES: list[tuple[str, Any]] = []
