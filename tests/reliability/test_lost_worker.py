"""A worker that died with no other worker alive (issue 8, item 2): every client shows its job
as lost instead of "running" forever, nothing waits on it forever, and the next worker to
start recovers it."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import jobmagics
from jobmagics.client import LEASE_S
from jobmagics.errors import WorkerLost
from jobmagics.model import WorkerRecord
from jobmagics.store import Capacity
from tests.conftest import WorkerProcess, wait_for

WORKER_ARGS = ("--slots", "1", "--no-kernel")


def cli(queue_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobmagics", "--queue", str(queue_dir), *args],
                          capture_output=True, text=True, timeout=60, check=False)


def running_job(queue: jobmagics.Queue, worker: WorkerProcess) -> jobmagics.Job:
    job = queue.submit(command=["sleep", "60"], retries=1)
    wait_for(lambda: job.refresh().state == "running" and queue.store.pid_of(job.id)[0], timeout=30)
    return job


def test_a_job_whose_only_worker_died_shows_as_lost_everywhere_and_is_recovered_by_the_next(
        queue: jobmagics.Queue, queue_dir: Path, start_worker: Callable[..., WorkerProcess]) -> None:
    from jobmagics.widgets import JobWidget, QueuePanel
    worker = start_worker(*WORKER_ARGS)
    job = running_job(queue, worker)
    widget, panel = JobWidget(job), QueuePanel(queue)
    assert job.to_dict()["worker_lost_at"] is None and "worker lost" not in widget.header.value
    killed_at = time.time()
    worker.kill()

    # the API, the CLI, the job widget and the queue panel (no commit happens: they must look)
    lost_at = queue.get(job.id).to_dict()["worker_lost_at"]
    assert lost_at is not None and killed_at - 1.5 <= lost_at <= killed_at
    assert "running (worker lost" in cli(queue_dir, "status", job.id).stdout
    assert "running (worker lost" in cli(queue_dir, "queue").stdout
    assert json.loads(cli(queue_dir, "queue", "--json").stdout)[0]["worker_lost_at"] == pytest.approx(lost_at)
    wait_for(lambda: "worker lost" in widget.header.value, timeout=10)
    wait_for(lambda: "worker lost" in panel.rows[job.id].cells.value, timeout=10)

    # nothing waits forever on it: not the API, not `jobmagics wait`, not `logs -f`
    started = time.monotonic()
    with pytest.raises(WorkerLost, match="no worker is alive to recover it"):
        job.wait(timeout=60)
    assert time.monotonic() - started < 30
    waited = cli(queue_dir, "wait", job.id)
    assert waited.returncode == 1 and "was lost" in waited.stderr and waited.stderr.count("\n") == 1
    assert cli(queue_dir, "logs", "-f", job.id).returncode == 1

    # the next worker recovers it as always (requeued: it had a retry left), and it is no longer lost
    start_worker(*WORKER_ARGS)
    wait_for(lambda: job.refresh().attempt == 2 and job.state == "running", timeout=30)
    assert job.to_dict()["worker_lost_at"] is None
    wait_for(lambda: "worker lost" not in widget.header.value, timeout=10)
    job.cancel()
    assert job.wait(30).state == "cancelled"
    widget.close()
    panel.close()


def test_with_another_worker_alive_a_wait_waits_for_its_recovery(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    first = start_worker(*WORKER_ARGS)
    job = queue.submit(command=["sleep", "2"], retries=1)
    wait_for(lambda: job.refresh().state == "running" and queue.store.pid_of(job.id)[0], timeout=30)
    start_worker(*WORKER_ARGS)         # it recovers the dead one's job, which then runs again
    first.kill()
    assert job.wait(60).state == "completed" and job.attempt == 2


def test_a_worker_on_another_host_is_lost_once_its_lease_runs_out(queue: jobmagics.Queue) -> None:
    now = time.time()
    for name, heartbeat in (("fresh", now), ("silent", now - 10 * LEASE_S)):
        queue.store.register_worker(WorkerRecord(
            id=name, host="another-host", pid=1, pid_started=0.0, user=queue.user, started_at=now - 60,
            heartbeat_at=heartbeat, slots=1, memory=None, resources={}, only_user=None, state="running"))
    jobs = {name: queue.submit(command=["true"]) for name in ("fresh", "silent")}
    for name in jobs:
        assert queue.store.claim(name, Capacity(slots=1, memory=1 << 40), limit=1)
    page = {j.id: j.to_dict()["worker_lost_at"] for j in queue.queue()}
    assert page[jobs["fresh"].id] is None
    assert page[jobs["silent"].id] == pytest.approx(now - 10 * LEASE_S + LEASE_S)
