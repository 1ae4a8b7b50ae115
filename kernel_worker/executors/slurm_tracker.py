"""Reading SLURM's answers about jobs: squeue for the jobs it still holds (one call for all
tracked jobs; ``-r`` lists every task of an array as ``<array id>_<index>``), and for those
slurmctld already forgot, sacct (when slurmdbd keeps accounting) or the jobcomp file."""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .batch_tracker import ENDED, RUNNING, WAITING, BatchStatus, BatchTracker, Query
from .slurm_commands import SlurmError, first_error_line, run_slurm

_FIELDS = "JobID:|,ArrayJobID:|,ArrayTaskID:|,State:|,exit_code:|,Reason:|,NodeList:|"
TERMINAL_STATES = frozenset({
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "DEADLINE", "NODE_FAIL", "OUT_OF_MEMORY",
    "BOOT_FAIL", "PREEMPTED", "SPECIAL_EXIT", "REVOKED", "LOST"})
WAITING_STATES = frozenset({"PENDING", "CONFIGURING", "REQUEUED", "REQUEUE_HOLD", "SUSPENDED",
                            "RESV_DEL_HOLD", "STOPPED"})


def slurm_status(state: str, exit_code: int | None = None, reason: str = "", node: str = "",
                 source: str = "squeue") -> BatchStatus:
    """A status in SLURM's words, with the phase its state means."""
    phase = ENDED if state in TERMINAL_STATES else WAITING if state in WAITING_STATES else RUNNING
    return BatchStatus(state, phase, exit_code, reason, node, source)


def exit_code_from_wait_status(status: int) -> int:
    """squeue's exit_code is a raw wait status: 768 is exit 3, 9 is SIGKILL."""
    signal_number = status & 0x7F
    return -signal_number if signal_number else (status >> 8) & 0xFF


def exit_code_from_pair(text: str) -> int | None:
    """sacct/scontrol/jobcomp write ``EXIT:SIGNAL`` (``3:0``, ``0:15``)."""
    code, _, signal_number = text.partition(":")
    try:
        return -int(signal_number) if signal_number and int(signal_number) else int(code)
    except ValueError:
        return None


def task_key(job_id: str, array_job_id: str, task_id: str) -> str | None:
    """How jobmagics names what SLURM lists: ``12`` for a job, ``12_3`` for a task of an
    array; None for a line of several tasks (squeue without ``-r``)."""
    if task_id in ("", "N/A", "(null)"):
        return job_id
    return f"{array_job_id}_{task_id}" if task_id.isdigit() else None


def parse_squeue(text: str) -> dict[str, BatchStatus]:
    statuses: dict[str, BatchStatus] = {}
    for line in text.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) < 7 or not fields[0].isdigit():
            continue
        job_id, array_job_id, task_id, state, raw_exit, reason, node = fields[:7]
        key = task_key(job_id, array_job_id, task_id)
        if key is None:
            continue
        exit_code = exit_code_from_wait_status(int(raw_exit)) if raw_exit.isdigit() else None
        statuses[key] = slurm_status(state.split()[0] if state else "UNKNOWN", exit_code,
                                     "" if reason in ("None", "(null)") else reason, node)
    return statuses


def submission_of(backend_id: str) -> str:
    """The SLURM job an id belongs to: ``12`` for ``12`` and for each task ``12_3``."""
    return backend_id.partition("_")[0]


def query_squeue(ids: Sequence[str]) -> dict[str, BatchStatus]:
    """One squeue call for all ids (an array's tasks through their array's id). Ids
    slurmctld forgot are simply absent from the answer."""
    jobs = ",".join(sorted({submission_of(i) for i in ids}))
    result = run_slurm(["squeue", "-h", "-r", "-t", "all", "-j", jobs, "-O", _FIELDS])
    if result.returncode != 0:
        if "Invalid job id" in result.stderr:      # squeue says so only when it knows none of them
            return {}
        raise SlurmError(f"squeue failed: {first_error_line(result.stderr)}")
    return parse_squeue(result.stdout)


class Accounting:
    """sacct knows jobs long after slurmctld forgot them, when slurmdbd is set up."""

    def __init__(self) -> None:
        self.enabled = True          # until sacct says accounting storage is disabled

    def lookup(self, ids: Sequence[str]) -> dict[str, BatchStatus]:
        if not self.enabled:
            return {}
        result = run_slurm(["sacct", "-n", "-P", "-X", "-j", ",".join(ids),
                            "-o", "JobID,State,ExitCode,NodeList"])
        if "disabled" in result.stdout + result.stderr:
            self.enabled = False
            return {}
        found = {}
        wanted = set(ids)
        for line in result.stdout.splitlines() if result.returncode == 0 else []:
            fields = line.split("|")
            if len(fields) >= 4 and fields[0] in wanted:
                state = fields[1].split()[0] if fields[1] else "UNKNOWN"   # "CANCELLED by 0"
                found[fields[0]] = slurm_status(state, exit_code_from_pair(fields[2]), "",
                                                fields[3], "sacct")
        return found


class JobCompFile:
    """The jobcomp/filetxt log: one ``JobId=N ... JobState=S ... ExitCode=E:S`` line per job
    (``ArrayJobId=A ArrayTaskId=I`` for a task of an array)."""

    TAIL_BYTES = 1 << 20

    def __init__(self) -> None:
        self._path: str | bool | None = False     # False: not looked up yet

    def path(self) -> str | None:
        if self._path is False:
            self._path = None
            result = run_slurm(["scontrol", "show", "config"])
            config = dict(_key_value(line) for line in result.stdout.splitlines() if "=" in line)
            if config.get("JobCompType") == "jobcomp/filetxt" and config.get("JobCompLoc"):
                self._path = config["JobCompLoc"]
        return self._path  # type: ignore[return-value]

    def lookup(self, ids: Sequence[str]) -> dict[str, BatchStatus]:
        path = self.path()
        if not path:
            return {}
        try:
            with open(path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - self.TAIL_BYTES))
                lines = handle.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return {}
        wanted, found = set(ids), {}
        for line in reversed(lines):          # the last line of a job is its latest end
            fields = dict(part.partition("=")[::2] for part in line.split() if "=" in part)
            key = task_key(fields.get("JobId", ""), fields.get("ArrayJobId", ""),
                           fields.get("ArrayTaskId", ""))
            if key in wanted and key not in found:
                found[key] = slurm_status(fields.get("JobState", "UNKNOWN"),
                                          exit_code_from_pair(fields.get("ExitCode", "")), "",
                                          fields.get("NodeList", ""), "jobcomp")
        return found


def _key_value(line: str) -> tuple[str, str]:
    key, _, value = line.partition("=")
    return key.strip(), value.strip()


class SlurmTracker(BatchTracker):
    """squeue for all tracked jobs at once; sacct, then the jobcomp file, for the rest."""

    def __init__(self, squeue: Query = query_squeue, **options: Any) -> None:
        self._accounting = Accounting()
        self._jobcomp = JobCompFile()
        super().__init__(squeue, self._ended_elsewhere,
                         lost_reason="not in squeue, sacct or the jobcomp file", **options)

    def _ended_elsewhere(self, ids: Sequence[str]) -> dict[str, BatchStatus]:
        found: dict[str, BatchStatus] = {}
        for source in (self._accounting, self._jobcomp):
            missing = [i for i in ids if i not in found]
            if not missing:
                break
            try:
                found.update(source.lookup(missing))
            except SlurmError:
                continue
        return found
