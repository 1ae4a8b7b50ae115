"""Finding workers that died and giving their jobs back, never losing or doubling one.

A job of a dead worker on this host goes back to the queue (or fails, "worker lost") only once
every process of its attempt is gone: its container (see ``proctrack``), its recorded process
and group, and every process carrying its marks. Until then it stays running and the next pass
tries again, so it never runs twice at once."""
from __future__ import annotations

import logging
import socket
import time

from jobmagics.errors import JobNotFound
from jobmagics.liveness import worker_alive
from jobmagics.model import JobRecord, State, WorkerRecord
from jobmagics.runtime import LEASE_S
from jobmagics.store import Store

from .executors.batch_systems import cancel_orphan as cancel_batch_orphan
from .proctrack import Tracker, tracker_for, worker_home_alive

log = logging.getLogger("kernel_worker")
SWEEP_EVERY_S = 30.0          # look for containers that dead workers left behind this often
_next_sweep: dict[str, float] = {}
_waiting: set[str] = set()          # dead workers whose processes would not end (warned once)


def end_local_attempt(store: Store, tracker: Tracker, job: JobRecord) -> bool:
    """End every process of a dead worker's attempt on this host; True once none is left."""
    pid, started = store.pid_of(job.id)
    return tracker.end_lost_attempt(job.id, job.attempt, pid, started)


def recover_dead_workers(store: Store, me: str) -> list[tuple[str, str]]:
    """Requeue (retries left) or fail ("worker lost") the jobs of every dead worker."""
    now, host = time.time(), socket.gethostname()
    tracker = tracker_for(store.layout.root)
    recovered: list[tuple[str, str]] = []
    for worker in store.workers():
        if worker.id == me or worker_alive(worker, now, LEASE_S):
            continue
        if worker.host == host and not _end_local_processes(store, tracker, worker):
            if worker.id not in _waiting:
                _waiting.add(worker.id)
                log.warning("processes of dead worker %s cannot be ended yet; its jobs stay running"
                            " until they are gone", worker.id)
            continue
        for job in store.running_on(worker.id):
            if job.backend != "local":
                cancel_batch_orphan(job)  # it outlives its worker, on any host: never run twice
        reason = f"worker lost: {worker.id} " + (
            "exited" if worker.host == host else f"silent for {now - worker.heartbeat_at:.0f} s")
        recovered += [(job_id, state.value)
                      for job_id, state in store.recover_worker(worker.id, reason)]
    if recovered or time.monotonic() >= _next_sweep.get(tracker.key, 0.0):
        _next_sweep[tracker.key] = time.monotonic() + SWEEP_EVERY_S
        sweep_containers(store, tracker)
    return recovered


def _end_local_processes(store: Store, tracker: Tracker, worker: WorkerRecord) -> bool:
    ended = [end_local_attempt(store, tracker, job) for job in store.running_on(worker.id)
             if job.backend == "local"]
    return all(ended) and tracker.end_home(worker.id)


def sweep_containers(store: Store, tracker: Tracker) -> None:
    """End and remove containers nobody will: of attempts no longer running (their worker died,
    and the job was recovered elsewhere or the container outlived its release) and homes of
    workers that are gone. A running attempt's container is its worker's (or recovery's)."""
    for name in tracker.names():
        if _stale(store, name):
            tracker.end(name)
    tracker.remove_stale_elsewhere()


def _stale(store: Store, name: str) -> bool:
    if name.startswith("worker."):          # a home: stale once its worker process is gone
        return not worker_home_alive(name)
    job_id, _, attempt = name.rpartition(".")
    try:
        job = store.get(job_id)
    except JobNotFound:
        return True
    return not (job.state is State.RUNNING and str(job.attempt) == attempt)
