"""(being built: issue 12)"""
from __future__ import annotations

from typing import Any

PARSERS: dict[str, Any] = {}


class EditingVerbs:
    """``%job`` subcommands (``_cmd_<name>(args, cell)``), a part of ``JobMagics``."""
