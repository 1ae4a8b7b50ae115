"""Run ``--backend pbs`` jobs on PBS/Torque: ``qsub`` a generated ``#PBS`` script, follow
every job with one ``qstat -f``, stop with ``qdel``; PBS's states (Q, H, W, T, S: queued;
R, E: running; C, F: ended) map onto the job's. qstat does not keep a job's exit status, so
the script writes it to a file the worker reads (``<queue>/pbs/reports``), as the runners of
python and function jobs write their result: nothing on the compute node opens the queue's
database. The executor's side shared with SLURM is ``batch``/``batch_executor``; arrays and
chains go through the queue (one qsub per job, each when its parents completed)."""
from __future__ import annotations

import contextlib
import math
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path

from jobmagics.context import report_path
from jobmagics.errors import JobmagicsError
from jobmagics.model import JobRecord

from ..identity import Identity
from .base import JobContext, Outcome
from .batch import Batch, exec_line
from .batch_commands import first_error_line, run_tool
from .batch_executor import BatchExecutor
from .batch_tracker import ENDED, RUNNING, WAITING, BatchStatus, BatchTracker

INSTALL_HINT = ("install PBS's client tools (qsub, qstat, qdel) on the worker's host"
                " (Debian: apt-get install slurm-wlm-torque for SLURM's) or run the worker"
                " without --pbs")
PHASES = {"Q": WAITING, "H": WAITING, "W": WAITING, "T": WAITING, "S": WAITING, "U": WAITING,
          "R": RUNNING, "E": RUNNING, "B": RUNNING,
          "C": ENDED, "F": ENDED, "X": ENDED}
WORDS = {"Q": "queued", "H": "held", "W": "waiting", "T": "moving", "S": "suspended",
         "R": "running", "E": "exiting", "C": "completed", "F": "finished", "X": "expired"}


class PbsError(JobmagicsError):
    """Raised when a PBS command is missing, times out or refuses what it was asked."""


def run_pbs(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
            owner: Identity | None = None) -> tuple[int, str, str]:
    result = run_tool(argv, error=PbsError, install_hint=INSTALL_HINT, server="the PBS server",
                      env=env, owner=owner)
    return result.returncode, result.stdout, result.stderr


def walltime(seconds: float) -> str:
    """``HH:MM:SS`` (whole seconds, rounded up)."""
    total = max(1, math.ceil(seconds))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def resource_list(job: JobRecord) -> str:
    """``nodes=1:ppn=<cpus>[,mem=<M>mb][,walltime=HH:MM:SS]``; the walltime is the job's
    timeout rounded up to whole minutes, so the worker's own exact limit ends it first."""
    parts = [f"nodes=1:ppn={job.cpus}"]
    if job.memory:
        parts.append(f"mem={math.ceil(job.memory / 2**20)}mb")
    if job.timeout:
        parts.append(f"walltime={walltime(math.ceil(job.timeout / 60) * 60)}")
    return ",".join(parts)


def pbs_script(job: JobRecord, context: JobContext, reports: Path, stdin: Path | None) -> str:
    """The job's ``#PBS`` script: it runs the job in its folder, then writes the exit status
    where the worker reads it (written whole, then renamed) and exits with it. A trap keeps
    the shell alive through qdel's SIGTERM (the job gets it too) so the status is written."""
    exit_file = shlex.quote(str(report_path(reports, job.id, job.attempt, "exit")))
    log_file = context.layout.log(job.id)
    lines = [
        "#!/bin/sh",
        f"#PBS -N {job.id}",
        f"#PBS -l {resource_list(job)}",
        "#PBS -V",
        # qsub is also given these (a command line wins over the script: SLURM's qsub needs it)
        f"#PBS -o {log_file}",
        f"#PBS -e {context.layout.stderr(job.id)}" if job.options.capture else "#PBS -j oe",
        f"# jobmagics {job.id} attempt {job.attempt}, submitted by worker {context.worker_id}",
        f"cd {shlex.quote(job.cwd)} || exit 1",
        "trap 'true' TERM",
        f"{exec_line(job, context)}{f' < {shlex.quote(str(stdin))}' if stdin else ''}",
        "code=$?",
        f'echo "$code" > {exit_file}.$$.tmp && mv -f {exit_file}.$$.tmp {exit_file}',
        'exit "$code"',
        "",
    ]
    return "\n".join(lines)


def parse_qstat(text: str) -> dict[str, BatchStatus]:
    """``qstat -f`` blocks (``Job Id: 42.server`` then ``key = value`` lines), by the
    number that starts the id (the server part may be spelt differently than qsub did)."""
    statuses: dict[str, BatchStatus] = {}
    fields: dict[str, str] = {}
    job_id = None
    for line in [*text.splitlines(), "Job Id: "]:
        if line.startswith("Job Id:"):
            if job_id:
                statuses[job_number(job_id)] = _status(fields)
            job_id, fields = line.partition(":")[2].strip(), {}
        elif "=" in line:
            key, _, value = line.partition("=")
            fields[key.strip()] = value.strip()
    return statuses


def _status(fields: dict[str, str]) -> BatchStatus:
    letter = fields.get("job_state", "?")[:1]
    code = fields.get("exit_status", "")
    exit_code = int(code) if code.lstrip("-").isdigit() else None
    node = fields.get("exec_host", "").split("/")[0]
    return BatchStatus(letter, PHASES.get(letter, RUNNING), exit_code, WORDS.get(letter, ""),
                       node, "qstat")


def job_number(pbs_id: str) -> str:
    return pbs_id.split(".")[0]


def query_qstat(ids: Sequence[str]) -> dict[str, BatchStatus]:
    """One ``qstat -f`` for all ids; ids the server forgot are absent from the answer."""
    code, out, err = run_pbs(["qstat", "-f", *ids])
    by_number = parse_qstat(out)
    if code != 0 and not by_number and "Unknown Job" not in err + out:
        raise PbsError(f"qstat failed: {first_error_line(err or out)}")
    return {pbs_id: by_number[job_number(pbs_id)] for pbs_id in ids
            if job_number(pbs_id) in by_number}


def outcome_for(status: BatchStatus, pbs_id: str, exit_code: int | None) -> Outcome | None:
    """How the attempt ended: the exit status its script wrote (or qstat's), else why not."""
    if not status.terminal:
        return None
    code = exit_code if exit_code is not None else status.exit_code
    if code is None:
        how = ("is gone from qstat" if status.state == "LOST" else "ended")
        return Outcome(None, f"PBS: job {pbs_id} {how} without an exit status (deleted with"
                             " qdel, or killed for its walltime or memory)")
    if code > 128:                      # the shell's word for a death by signal 128 + N
        code = -(code - 128)
    if code == 0:
        return Outcome(0)
    how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
    return Outcome(code, f"{how} (PBS job {pbs_id})")


class PbsSystem:
    """PBS/Torque for ``BatchExecutor``."""

    name = "pbs"
    label = "PBS"
    arrays = False
    chains = False
    exit_files = True

    def tracker(self) -> BatchTracker:
        return BatchTracker(query_qstat, lost_reason="not in qstat")

    def script(self, batch: Batch, context: JobContext, reports: Path) -> str:
        job = batch.first
        stdin = (context.layout.root / self.name / f"{job.id}.stdin"
                 if job.options.stdin_b64 else None)
        return pbs_script(job, context, reports, stdin)

    def submit(self, batch: Batch, script: Path, env: dict[str, str],
               owner: Identity | None, context: JobContext) -> list[str]:
        job, layout = batch.first, context.layout
        output = (["-o", str(layout.log(job.id)), "-e", str(layout.stderr(job.id))]
                  if job.options.capture else ["-j", "oe", "-o", str(layout.log(job.id))])
        code, out, err = run_pbs(["qsub", *output, str(script)], env=env, owner=owner)
        pbs_id = out.strip().splitlines()[-1].strip() if out.strip() else ""
        if code != 0 or not pbs_id[:1].isdigit() or " " in pbs_id:
            raise PbsError(f"qsub refused the job: {first_error_line(err + out)}")
        return [pbs_id]

    def cancel(self, backend_ids: Sequence[str], *, gently: bool) -> None:
        with contextlib.suppress(PbsError):
            run_pbs(["qdel", *backend_ids])

    def submission_of(self, backend_id: str) -> str:
        return backend_id

    def outcome(self, status: BatchStatus, backend_id: str,
                exit_code: int | None) -> Outcome | None:
        return outcome_for(status, backend_id, exit_code)

    def never_starts(self, status: BatchStatus) -> str | None:
        return None

    def stage(self, status: BatchStatus, backend_id: str) -> str:
        where = f" on {status.node}" if status.node and status.phase == RUNNING else ""
        return f"pbs {backend_id}: {status.reason or status.state}{where}"


class PbsExecutor(BatchExecutor):
    """Submits ``backend == "pbs"`` jobs of every kind with ``qsub``."""

    def __init__(self, context: JobContext | None = None,
                 tracker: BatchTracker | None = None) -> None:
        super().__init__(PbsSystem(), context, tracker)


def cancel_orphan(job: JobRecord) -> bool:
    """qdel the PBS job of an attempt whose worker died (by its recorded id, else the jobs
    named after it), so a requeue cannot run it twice. False when qdel could not be run."""
    try:
        if job.backend_id:
            run_pbs(["qdel", job.backend_id])
            return True
        _, out, _ = run_pbs(["qstat", "-f"])
        named = [number for number, fields in _names(out).items() if fields == job.id]
        if named:
            run_pbs(["qdel", *named])
    except PbsError:
        return False
    return True


def _names(text: str) -> dict[str, str]:
    """Job number -> Job_Name, from ``qstat -f``."""
    names: dict[str, str] = {}
    number = None
    for line in text.splitlines():
        if line.startswith("Job Id:"):
            number = job_number(line.partition(":")[2].strip())
        elif number and line.strip().startswith("Job_Name"):
            names[number] = line.partition("=")[2].strip()
    return names
