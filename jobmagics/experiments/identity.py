"""What exactly produced a run: the experiment's code (file, hash, git commit) and environment."""
from __future__ import annotations

import hashlib
import inspect
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

MAX_SOURCE_COPY = 512 * 1024     # the module's text is kept in the snapshot up to this size
_GIT_TIMEOUT_S = 5.0


def code_identity(cls: type) -> dict[str, Any]:
    """Module, class, source file and its SHA-256 (and a copy of it), and the git commit."""
    identity: dict[str, Any] = {"module": cls.__module__, "class": cls.__qualname__,
                                "target": f"{cls.__module__}:{cls.__qualname__}"}
    try:
        file = inspect.getsourcefile(cls)
    except TypeError:
        file = None
    if file is None or not os.path.isfile(file):
        identity.update(file=None, source_sha256=None, source=None, git=None)
        return identity
    text = Path(file).read_bytes()
    source = text.decode("utf-8", "replace") if len(text) <= MAX_SOURCE_COPY else None
    identity.update(file=os.path.abspath(file), source_sha256=hashlib.sha256(text).hexdigest(),
                    source=source, class_source_sha256=_class_source_hash(cls),
                    git=git_identity(Path(file)))
    return identity


def _class_source_hash(cls: type) -> str | None:
    try:
        return hashlib.sha256(inspect.getsource(cls).encode()).hexdigest()
    except (OSError, TypeError):
        return None


def git_identity(file: Path) -> dict[str, Any] | None:
    """The commit of the repository holding ``file``, and whether the file differs from it."""
    folder = file.parent
    top = _git(folder, "rev-parse", "--show-toplevel")
    commit = _git(folder, "rev-parse", "HEAD")
    if top is None or commit is None:
        return None
    status = _git(folder, "status", "--porcelain", "--", file.name)
    branch = _git(folder, "rev-parse", "--abbrev-ref", "HEAD")
    return {"repository": top, "commit": commit, "branch": branch,
            "file_modified": bool(status), "path": os.path.relpath(file, top)}


def _git(folder: Path, *args: str) -> str | None:
    env = dict(os.environ, GIT_OPTIONAL_LOCKS="0", GIT_TERMINAL_PROMPT="0")
    try:
        done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              timeout=_GIT_TIMEOUT_S, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def environment_identity() -> dict[str, Any]:
    import h5py
    import numpy

    from .. import __version__

    return {"jobmagics": __version__, "python": sys.version.split()[0],
            "executable": sys.executable, "platform": platform.platform(),
            "numpy": numpy.__version__, "h5py": h5py.__version__}
