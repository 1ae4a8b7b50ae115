"""Helpers for experiment tests: user experiment modules written into a folder of their own."""
from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def experiment_folder(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write ``name.py`` with the given source into a fresh folder (a user's notebook folder)."""
    folder = tmp_path / "lab_code"
    folder.mkdir()

    def write(name: str, source: str) -> Path:
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
        return folder

    return write


@pytest.fixture
def git() -> Callable[..., str]:
    """Run git in a folder as a throwaway identity: ``git(folder, "commit", ...)``."""
    return run_git


def run_git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True,
                          env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
                               "HOME": str(folder), "PATH": "/usr/bin:/bin"})
    return done.stdout.strip()


@pytest.fixture
def unchecked_at_submit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Submit experiments as if their class could not be imported where they are submitted
    (it lives on the worker's side only): accepted, and checked by the worker when it starts.
    For tests of the worker's own refusals."""
    monkeypatch.setattr("jobmagics.experiments.checking.find_class",
                        lambda target, cwd: (None, "only the worker has it (a test)"))
