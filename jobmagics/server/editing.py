"""(being built: issue 12)"""
from __future__ import annotations

from typing import Any

ROUTES: list[tuple[str, Any]] = []      # (path under /jobmagics/api/, handler class)
