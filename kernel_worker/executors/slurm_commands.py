"""Calling SLURM's command-line tools (sbatch, squeue, scancel, sacct, scontrol).

Every call is an argv list with a timeout; a missing tool or a controller that does not answer
becomes a ``SlurmError`` with one message a user can act on, never a crash of the worker."""
from __future__ import annotations

import contextlib
import math
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from jobmagics.errors import JobmagicsError
from jobmagics.model import JobRecord

from ..identity import Identity

COMMAND_TIMEOUT_S = 30.0
INSTALL_HINT = ("install SLURM's client tools on the worker's host "
                "(Debian: apt-get install slurm-client) or run the worker without --slurm")


class SlurmError(JobmagicsError):
    """Raised when a SLURM command is missing, times out or refuses what it was asked."""


def run_slurm(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              timeout: float = COMMAND_TIMEOUT_S,
              owner: Identity | None = None) -> subprocess.CompletedProcess[str]:
    """Run one SLURM command (as ``owner`` when given: SLURM then runs the job as them);
    raises ``SlurmError`` if it cannot run at all.

    A non-zero exit status is returned, not raised: callers know which ones matter."""
    as_owner = owner.popen_keywords() if owner is not None else {}
    tool = argv[0]
    search = (env or os.environ).get("PATH") or os.defpath
    path = shutil.which(tool, path=search) or shutil.which(tool)
    if path is None:
        raise SlurmError(f"{tool} not found: {INSTALL_HINT}")
    try:
        return subprocess.run([path, *argv[1:]], capture_output=True, text=True, timeout=timeout,
                              check=False, env=dict(env) if env is not None else None,
                              stdin=subprocess.DEVNULL, **as_owner)
    except subprocess.TimeoutExpired:
        raise SlurmError(f"{tool} did not answer within {timeout:g} s:"
                         " is slurmctld running?") from None
    except OSError as exc:
        raise SlurmError(f"cannot run {tool}: {exc.strerror or exc}") from None


def first_error_line(text: str) -> str:
    """The most telling line of a SLURM tool's stderr ("sbatch: error: ...")."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error" in ln.lower() or "fatal" in ln.lower()]
    return (errors or lines or ["no message"])[-1][:500]


# ---- sbatch -------------------------------------------------------------------------------
def slurm_job_name(job: JobRecord) -> str:
    """Unique per jobmagics job, so an orphan can be found by name (``scancel --name``)."""
    label = " ".join((job.name or "").split())[:80]
    return f"{label} [{job.id}]" if label else job.id


def sbatch_options(job: JobRecord, log: str, stderr: str | None, stdin: str | None) -> list[str]:
    """The sbatch options of one attempt: output, name, cpus, memory, time limit, folder."""
    options = [
        "--parsable", "--export=ALL", f"--job-name={slurm_job_name(job)}",
        f"--comment=jobmagics {job.id} attempt {job.attempt}",
        f"--output={log}", "--open-mode=append", f"--chdir={job.cwd}",
        f"--cpus-per-task={job.cpus}",
    ]
    if stderr is not None:
        options.append(f"--error={stderr}")
    if stdin is not None:
        options.append(f"--input={stdin}")
    if job.memory:
        options.append(f"--mem={math.ceil(job.memory / 2**20)}M")
    if job.timeout:
        # SLURM's limit is whole minutes; rounding up keeps the worker's own (exact) limit first
        options.append(f"--time={max(1, math.ceil(job.timeout / 60))}")
    return options + extra_sbatch_arguments(job)


def extra_sbatch_arguments(job: JobRecord) -> list[str]:
    """``options={"sbatch_args": ["--partition=gpu", "--gres=gpu:1"]}`` passes site options."""
    # Stored options are user data: checked here whatever their declared type says.
    extra: Any = job.options.sbatch_args or []
    if isinstance(extra, str) or not all(isinstance(a, str) and a.startswith("-") for a in extra):
        raise SlurmError("sbatch_args must be a list of options like ['--partition=gpu'],"
                         f" not {extra!r}")
    return list(extra)


def submit_batch(script: str, options: Sequence[str], env: Mapping[str, str],
                 owner: Identity | None = None) -> str:
    """``sbatch --parsable ... SCRIPT`` (as ``owner`` when given); returns the SLURM job id or
    raises ``SlurmError``."""
    result = run_slurm(["sbatch", *options, script], env=env, owner=owner)
    if result.returncode != 0:
        raise SlurmError(f"sbatch refused the job: {first_error_line(result.stderr)}")
    slurm_id = result.stdout.strip().split(";")[0]
    if not slurm_id.isdigit():
        raise SlurmError(f"sbatch answered {result.stdout.strip()!r} instead of a job id")
    return slurm_id


# ---- scancel ------------------------------------------------------------------------------
def cancel(slurm_id: str, *, gently: bool = False) -> None:
    """``scancel``: gently sends SIGTERM to the batch script and its children (``--full``);
    otherwise SLURM cancels the job (SIGTERM, SIGKILL after KillWait). Errors are ignored:
    the tracker reports how the job ended either way."""
    argv = ["scancel", "--full", "--signal=TERM", slurm_id] if gently else ["scancel", slurm_id]
    with contextlib.suppress(SlurmError):
        run_slurm(argv)


def cancel_orphan(job: JobRecord) -> bool:
    """Cancel the SLURM job of an attempt whose worker died, so a requeue cannot run it twice.

    Without a recorded SLURM id (the worker died between sbatch and recording it) the job is
    found by its unique name. Returns False when scancel could not be run."""
    if job.backend_id:
        argv = ["scancel", job.backend_id]
    else:
        argv = ["scancel", f"--name={slurm_job_name(job)}", f"--user={job.user}"]
    try:
        run_slurm(argv)
    except SlurmError:
        return False
    return True
