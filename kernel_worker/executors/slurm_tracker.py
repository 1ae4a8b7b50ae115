"""Tracking SLURM jobs cheaply: one ``squeue`` call refreshes every tracked job.

The worker polls each running execution every ~50 ms; asking slurmctld that often per job
would load it for nothing. A background thread refreshes all tracked ids with ONE squeue call
per interval (``-t all`` also lists jobs that ended less than ``MinJobAge`` ago, with their
exit status), and asks sacct or the jobcomp file about jobs that already left slurmctld's
memory. ``poll()`` only reads the last answer."""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .slurm_commands import SlurmError, first_error_line, run_slurm

log = logging.getLogger("kernel_worker.slurm")

REFRESH_S = 0.5          # one squeue per interval for all tracked jobs
LOST_AFTER_MISSES = 5    # refreshes in a row that find a job nowhere before it counts as lost
_FIELDS = "JobID:|,State:|,exit_code:|,Reason:|,NodeList:|"
TERMINAL_STATES = frozenset({
    "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "DEADLINE", "NODE_FAIL", "OUT_OF_MEMORY",
    "BOOT_FAIL", "PREEMPTED", "SPECIAL_EXIT", "REVOKED", "LOST"})


@dataclass(frozen=True)
class SlurmStatus:
    """What SLURM last said about one job."""

    state: str                      # PENDING, RUNNING, COMPLETED, ... (LOST: nobody knows it)
    exit_code: int | None = None    # the job's exit status; -N when killed by signal N
    reason: str = ""                # why it is pending or how it ended (squeue's Reason)
    node: str = ""
    source: str = "squeue"

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


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


def parse_squeue(text: str) -> dict[str, SlurmStatus]:
    statuses: dict[str, SlurmStatus] = {}
    for line in text.splitlines():
        fields = line.split("|")
        if len(fields) < 5 or not fields[0].strip().isdigit():
            continue
        job_id, state, raw_exit, reason, node = (f.strip() for f in fields[:5])
        exit_code = exit_code_from_wait_status(int(raw_exit)) if raw_exit.isdigit() else None
        statuses[job_id] = SlurmStatus(state.split()[0] if state else "UNKNOWN", exit_code,
                                       "" if reason in ("None", "(null)") else reason, node)
    return statuses


def query_squeue(ids: Sequence[str]) -> dict[str, SlurmStatus]:
    """One squeue call for all ids. Ids slurmctld forgot are simply absent from the answer."""
    result = run_slurm(["squeue", "-h", "-t", "all", "-j", ",".join(ids), "-O", _FIELDS])
    if result.returncode != 0:
        if "Invalid job id" in result.stderr:      # squeue says so only when it knows none of them
            return {}
        raise SlurmError(f"squeue failed: {first_error_line(result.stderr)}")
    return parse_squeue(result.stdout)


class Accounting:
    """sacct knows jobs long after slurmctld forgot them, when slurmdbd is set up."""

    def __init__(self) -> None:
        self.enabled = True          # until sacct says accounting storage is disabled

    def lookup(self, slurm_id: str) -> SlurmStatus | None:
        if not self.enabled:
            return None
        result = run_slurm(["sacct", "-n", "-P", "-X", "-j", slurm_id,
                            "-o", "JobID,State,ExitCode,NodeList"])
        if "disabled" in result.stdout + result.stderr:
            self.enabled = False
            return None
        for line in result.stdout.splitlines() if result.returncode == 0 else []:
            fields = line.split("|")
            if len(fields) >= 4 and fields[0] == slurm_id:
                state = fields[1].split()[0] if fields[1] else "UNKNOWN"   # "CANCELLED by 0"
                return SlurmStatus(state, exit_code_from_pair(fields[2]), "", fields[3], "sacct")
        return None


class JobCompFile:
    """The jobcomp/filetxt log: one ``JobId=N ... JobState=S ... ExitCode=E:S`` line per job."""

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

    def lookup(self, slurm_id: str) -> SlurmStatus | None:
        path = self.path()
        if not path:
            return None
        try:
            with open(path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - self.TAIL_BYTES))
                lines = handle.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return None
        for line in reversed(lines):
            if line.startswith(f"JobId={slurm_id} "):
                fields = dict(part.partition("=")[::2] for part in line.split() if "=" in part)
                return SlurmStatus(fields.get("JobState", "UNKNOWN"),
                                   exit_code_from_pair(fields.get("ExitCode", "")), "",
                                   fields.get("NodeList", ""), "jobcomp")
        return None


def _key_value(line: str) -> tuple[str, str]:
    key, _, value = line.partition("=")
    return key.strip(), value.strip()


class SlurmTracker:
    """Statuses of the tracked SLURM jobs, refreshed by one background thread."""

    def __init__(self, interval: float = REFRESH_S,
                 squeue: Callable[[Sequence[str]], dict[str, SlurmStatus]] = query_squeue) -> None:
        self.interval = interval
        self.trouble: str | None = None           # last error talking to slurmctld, if any
        self._squeue = squeue
        self._accounting = Accounting()
        self._jobcomp = JobCompFile()
        self._statuses: dict[str, SlurmStatus | None] = {}
        self._misses: dict[str, int] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def watch(self, slurm_id: str) -> None:
        with self._lock:
            self._statuses.setdefault(slurm_id, None)
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(target=self._run, name="slurm-tracker", daemon=True)
                self._thread.start()
        self._wake.set()

    def forget(self, slurm_id: str) -> None:
        with self._lock:
            self._statuses.pop(slurm_id, None)
            self._misses.pop(slurm_id, None)

    def status(self, slurm_id: str) -> SlurmStatus | None:
        with self._lock:
            return self._statuses.get(slurm_id)

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopping:
            with self._lock:
                ids = [i for i, s in self._statuses.items() if s is None or not s.terminal]
            if ids:
                self.refresh(ids)
                # at most one squeue per interval, however many jobs a burst submits
                self._stopped_while(self.interval)
            else:
                self._wake.wait()              # nothing to track: sleep until watch()
                self._wake.clear()

    def _stopped_while(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self._stopping and (left := deadline - time.monotonic()) > 0:
            self._wake.wait(left)
            self._wake.clear()

    def refresh(self, ids: Sequence[str]) -> None:
        """Ask squeue about all ids, then the fallbacks about the ones it no longer knows."""
        try:
            found = self._squeue(ids)
        except SlurmError as exc:
            if self.trouble != str(exc):
                log.warning("%s", exc)
            self.trouble = str(exc)
            return
        self.trouble = None
        for slurm_id in ids:
            status = found.get(slurm_id) or self._ended_elsewhere(slurm_id)
            with self._lock:
                if slurm_id in self._statuses and status is not None:
                    self._statuses[slurm_id] = status
                    self._misses.pop(slurm_id, None)

    def _ended_elsewhere(self, slurm_id: str) -> SlurmStatus | None:
        """A job squeue does not list any more: ask accounting, then the jobcomp file."""
        for source in (self._accounting, self._jobcomp):
            try:
                status = source.lookup(slurm_id)
            except SlurmError:
                continue
            if status is not None:
                return status
        with self._lock:
            misses = self._misses[slurm_id] = self._misses.get(slurm_id, 0) + 1
        if misses >= LOST_AFTER_MISSES:
            return SlurmStatus("LOST", None, "not in squeue, sacct or the jobcomp file", "", "none")
        return None
