"""Finding workers that died and giving their jobs back, never losing or doubling one."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import time

import psutil

from jobmagics.client import LEASE_S
from jobmagics.context import ATTEMPT_VAR, JOB_ID_VAR
from jobmagics.liveness import same_process, worker_alive
from jobmagics.store import Store

from .executors.slurm_commands import cancel_orphan as cancel_slurm_orphan


def kill_orphan(pid: int | None, pid_started: float | None) -> None:
    """A dead worker's job may still run: stop its whole group before it is requeued."""
    if pid is None or not same_process(pid, pid_started):
        return
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_attempt_processes(job_id: str, attempt: int) -> int:
    """Kill every process on this host that belongs to this attempt of the job, found by the
    marks in its environment. This covers a worker killed after starting the job but before
    recording its pid. The attempt number keeps the next attempt, which has its own, safe."""
    marks = {JOB_ID_VAR: job_id, ATTEMPT_VAR: str(attempt)}
    killed = 0
    for process in psutil.process_iter():
        try:
            environment = process.environ()
        except (psutil.Error, OSError):
            continue
        if all(environment.get(name) == value for name, value in marks.items()):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(process.pid, signal.SIGKILL)
                killed += 1
    return killed


def recover_dead_workers(store: Store, me: str) -> list[tuple[str, str]]:
    """Requeue (retries left) or fail ("worker lost") the jobs of every dead worker."""
    now, host = time.time(), socket.gethostname()
    recovered: list[tuple[str, str]] = []
    for worker in store.workers():
        if worker.id == me or worker_alive(worker, now, LEASE_S):
            continue
        for job in store.running_on(worker.id):
            if job.backend == "slurm":
                cancel_slurm_orphan(job)      # it outlives its worker, on any host: never run it twice
            elif worker.host == host:
                pid, started = store.pid_of(job.id)
                kill_orphan(pid, started)
                kill_attempt_processes(job.id, job.attempt)
        reason = f"worker lost: {worker.id} " + (
            "exited" if worker.host == host else f"silent for {now - worker.heartbeat_at:.0f} s")
        recovered += [(job_id, state.value) for job_id, state in store.recover_worker(worker.id, reason)]
    return recovered
