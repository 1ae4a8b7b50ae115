"""``%load_ext jobmagics``: the ``%job`` line magic and ``%%job`` cell magic."""
from __future__ import annotations

from .core import JobMagics

__all__ = ["JobMagics"]
