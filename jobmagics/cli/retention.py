"""(being built: issue 12)"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def add_commands(sub: Any) -> None:
    """Add this module's subcommands to ``jobmagics``."""


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}
