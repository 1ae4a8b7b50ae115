"""``bench/results.json``: each bench's figures under its own key, written by one function
(the file is read back by README's "How fast" and compared across sessions)."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).with_name("results.json")


def stamp() -> dict[str, str]:
    """Where and when the figures were taken."""
    return {"machine": f"{os.cpu_count()} cores", "at": time.strftime("%Y-%m-%d %H:%M")}


def saved() -> dict[str, Any]:
    """Everything the benches saved so far."""
    return json.loads(RESULTS.read_text()) if RESULTS.exists() else {}


def save(key: str, figures: dict[str, Any]) -> Path:
    """Put ``figures`` under ``key``, keeping every other bench's."""
    results = saved()
    results[key] = figures
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True, default=str) + "\n")
    return RESULTS
