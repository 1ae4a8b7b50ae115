"""Prunes while a worker runs jobs: a prune takes only what has ended, in short batches, so
nothing waiting, pending or running is lost, every job runs exactly once, and the queue's
invariants hold (the database sound, the per-user counts right)."""
from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import jobmagics
from jobmagics.retention_model import FINISHED
from tests.conftest import WorkerProcess
from tests.reliability.invariants import Evidence, check_invariants, figure, sized
from tests.test_retention import _fill, counts_are_right


def test_pruning_everything_that_ended_while_a_worker_runs_jobs_loses_nothing_active(
        queue: jobmagics.Queue, queue_dir: Path, evidence: Evidence,
        start_worker: Callable[..., WorkerProcess]) -> None:
    old = _fill(queue, queue_dir, sized(3000, 30000))
    worker = start_worker("--slots", "2")
    jobs = queue.submit_many([{"command": evidence.command(0.02), "name": f"race {i}"}
                              for i in range(sized(200, 2000))])
    ids = [job.id for job in jobs]
    assert queue.prune("1d", keep_data=False).jobs == len(old)
    pruned, prunes, longest = 0, 0, 0.0
    while queue.store.count(states=[s for s in jobmagics.State if s not in FINISHED]):
        report = queue.store.prune(cut=time.time() + 3600, states=list(FINISHED))
        pruned, prunes = pruned + report.jobs, prunes + 1
        longest = max(longest, report.seconds)
    pruned += queue.store.prune(cut=time.time() + 3600, states=list(FINISHED)).jobs

    assert evidence.starts() == dict.fromkeys(ids, 1)       # each ran, exactly once
    assert evidence.violations() == []
    assert pruned == len(ids) and queue.stats()["total"] == 0
    assert "Traceback" not in worker.output() and "ERROR" not in worker.output()
    assert counts_are_right(queue_dir)
    check_invariants(queue, [], evidence=evidence)
    figure("prune while running: prunes of ended jobs", f"{prunes} (longest {longest:.2f} s)")


def test_a_prune_keeps_what_is_still_to_run_among_old_jobs(
        queue: jobmagics.Queue, queue_dir: Path, evidence: Evidence,
        start_worker: Callable[..., WorkerProcess]) -> None:
    old = _fill(queue, queue_dir, sized(1000, 10000))
    waiting = queue.submit_many([{"command": evidence.command(0), "hold": True}
                                 for _ in range(20)])
    with sqlite3.connect(queue_dir / "jobs.db") as conn:          # submitted long ago, too
        conn.executemany("UPDATE jobs SET submitted_at = submitted_at - 864000 WHERE id = ?",
                         [(job.id,) for job in waiting])
    start_worker("--slots", "2")
    assert queue.prune("1d", keep_data=False).jobs == len(old)
    for job in waiting:
        queue.release(job.id)
    for job in waiting:
        assert job.wait(60).state is jobmagics.State.COMPLETED
    assert evidence.starts() == {job.id: 1 for job in waiting}
    check_invariants(queue, [job.id for job in waiting], evidence=evidence)
