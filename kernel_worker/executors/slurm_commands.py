"""Calling SLURM's command-line tools (sbatch, squeue, scancel, sacct, scontrol): a missing
tool or a controller that does not answer is a ``SlurmError`` (see ``batch_commands``)."""
from __future__ import annotations

import contextlib
import math
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from jobmagics.errors import JobmagicsError
from jobmagics.model import JobRecord

from ..identity import Identity
from .batch_commands import COMMAND_TIMEOUT_S, first_error_line, run_tool

__all__ = ["COMMAND_TIMEOUT_S", "SlurmError", "cancel", "cancel_orphan", "first_error_line",
           "run_slurm", "sbatch_options", "slurm_job_name", "submit_batch"]

INSTALL_HINT = ("install SLURM's client tools on the worker's host "
                "(Debian: apt-get install slurm-client) or run the worker without --slurm")


class SlurmError(JobmagicsError):
    """Raised when a SLURM command is missing, times out or refuses what it was asked."""


def run_slurm(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
              timeout: float = COMMAND_TIMEOUT_S,
              owner: Identity | None = None) -> subprocess.CompletedProcess[str]:
    """Run one SLURM command (as ``owner`` when given: SLURM then runs the job as them);
    raises ``SlurmError`` if it cannot run at all. A non-zero exit status is returned."""
    return run_tool(argv, error=SlurmError, install_hint=INSTALL_HINT, server="slurmctld",
                    env=env, timeout=timeout, owner=owner)


# ---- sbatch -------------------------------------------------------------------------------
def slurm_job_name(job: JobRecord) -> str:
    """Unique per jobmagics job (per array, for an element: the array job of its elements),
    so an orphan can be found by name (``scancel --name``)."""
    label = " ".join((job.name or "").split())[:80]
    mark = job.array_id or job.id
    return f"{label} [{mark}]" if label else mark


def sbatch_options(job: JobRecord, log: str, stderr: str | None, stdin: str | None,
                   comment: str | None = None) -> list[str]:
    """The sbatch options of one attempt (or, given ``job``'s first element, of an array
    job): output, name, cpus, memory, time limit, folder."""
    options = [
        "--parsable", "--export=ALL", f"--job-name={slurm_job_name(job)}",
        f"--comment={comment or f'jobmagics {job.id} attempt {job.attempt}'}",
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
def cancel(slurm_ids: Sequence[str] | str, *, gently: bool = False) -> None:
    """One ``scancel`` for all ids (jobs, array jobs, ``<array job>_<index>`` tasks): gently
    sends SIGTERM to the batch script and its children (``--full``); otherwise SLURM cancels
    them (SIGTERM, SIGKILL after KillWait). Errors are ignored: the tracker reports how each
    job ended either way."""
    ids = [slurm_ids] if isinstance(slurm_ids, str) else list(slurm_ids)
    argv = ["scancel", "--full", "--signal=TERM", *ids] if gently else ["scancel", *ids]
    with contextlib.suppress(SlurmError):
        run_slurm(argv)


def cancel_orphan(job: JobRecord) -> bool:
    """Cancel the SLURM job of an attempt whose worker died, so a requeue cannot run it twice.

    Without a recorded SLURM id (the worker died between sbatch and recording it) the job is
    found by its unique name (an array's element: its task in each array job of that array).
    Returns False when scancel could not be run."""
    try:
        if job.backend_id:
            run_slurm(["scancel", job.backend_id])
        elif job.array_id is None:
            run_slurm(["scancel", f"--name={slurm_job_name(job)}", f"--user={job.user}"])
        else:
            listed = run_slurm(["squeue", "-h", f"--name={slurm_job_name(job)}",
                                f"--user={job.user}", "-o", "%F"])
            arrays = sorted(set(listed.stdout.split()))
            if arrays:
                run_slurm(["scancel", *(f"{a}_{job.array_index}" for a in arrays)])
    except SlurmError:
        return False
    return True
