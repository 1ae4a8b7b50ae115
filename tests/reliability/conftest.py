"""Fixtures of the reliability suite (see invariants.py for what each scenario checks)."""
from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.invariants import _FIGURES, EVIDENCE_SH, SOAK, Evidence, Submitters


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _FIGURES:
        return
    terminalreporter.section(f"reliability figures ({'soak' if SOAK else 'CI'} size)")
    for name, value in _FIGURES:
        terminalreporter.write_line(f"{name}: {value}")


@pytest.fixture
def evidence(tmp_path: Path) -> Evidence:
    root = tmp_path / "evidence"
    (root / "locks").mkdir(parents=True)
    script = root / "evidence.sh"
    script.write_text(EVIDENCE_SH)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return Evidence(root)


@pytest.fixture
def submitters(queue_dir: Path, tmp_path: Path) -> Iterator[Submitters]:
    group = Submitters(queue_dir, tmp_path / "submitters")
    yield group
    group.stop_all()
