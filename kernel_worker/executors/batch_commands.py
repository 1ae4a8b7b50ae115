"""Calling a batch system's command-line tools (sbatch, squeue, qsub, qstat, ...).

Every call is an argv list with a timeout; a missing tool or a controller that does not answer
becomes the system's error (a ``JobmagicsError``) with one message a user can act on, never a
crash of the worker."""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence

from jobmagics.errors import JobmagicsError

from ..identity import Identity

COMMAND_TIMEOUT_S = 30.0


def run_tool(argv: Sequence[str], *, error: type[JobmagicsError], install_hint: str,
             server: str, env: Mapping[str, str] | None = None,
             timeout: float = COMMAND_TIMEOUT_S,
             owner: Identity | None = None) -> subprocess.CompletedProcess[str]:
    """Run one tool (as ``owner`` when given: the system then runs the job as them); raises
    ``error`` if it cannot run at all (``install_hint`` says what to install; ``server``
    what did not answer). A non-zero exit status is returned, not raised: callers know
    which ones matter."""
    as_owner = owner.popen_keywords() if owner is not None else {}
    tool = argv[0]
    search = (env or os.environ).get("PATH") or os.defpath
    path = shutil.which(tool, path=search) or shutil.which(tool)
    if path is None:
        raise error(f"{tool} not found: {install_hint}")
    try:
        return subprocess.run([path, *argv[1:]], capture_output=True, text=True, timeout=timeout,
                              check=False, env=dict(env) if env is not None else None,
                              stdin=subprocess.DEVNULL, **as_owner)
    except subprocess.TimeoutExpired:
        raise error(f"{tool} did not answer within {timeout:g} s:"
                    f" is {server} running?") from None
    except OSError as exc:
        raise error(f"cannot run {tool}: {exc.strerror or exc}") from None


def first_error_line(text: str) -> str:
    """The most telling line of a tool's output ("sbatch: error: ...")."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower() or "fatal" in ln.lower()]
    return (errors or lines or ["no message"])[-1][:500]
