"""The routes behind JupyterLab's job view: what a job measured, printed and ran with.
(Filled by the job-view work of issue 13.)"""
from __future__ import annotations

from typing import Any

ROUTES: list[tuple[str, Any]] = []
