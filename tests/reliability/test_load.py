"""Scenario 1: many submitter processes while several workers drain the queue."""
from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import jobmagics
from tests.conftest import WorkerProcess, wait_for
from tests.reliability.invariants import Evidence, Submitters, check_invariants, figure, sized

SUBMITTERS = 8
JOBS_EACH = sized(1000, 2500)   # the issue: 8 submitters x 1,000 jobs, in CI too
WORKERS, SLOTS = 4, 2


def test_eight_submitters_and_four_workers_lose_nothing_and_double_nothing(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], submitters: Submitters,
        evidence: Evidence) -> None:
    workers = [start_worker("--slots", str(SLOTS), "--resource", "hardware", "--resource", "gpu=2",
                            "--no-kernel") for _ in range(WORKERS)]
    started = time.monotonic()
    procs = [submitters.start(f"s{i}", "load", str(JOBS_EACH), str(i), str(evidence.root))
             for i in range(SUBMITTERS)]
    for i, proc in enumerate(procs):
        assert proc.wait(600) == 0, submitters.log(f"s{i}")
    submitted_in = time.monotonic() - started
    ids = submitters.acknowledged()
    assert len(ids) == SUBMITTERS * JOBS_EACH
    wait_for(lambda: queue.count(state=["waiting", "pending", "running"]) == 0, timeout=900, interval=0.2)
    drained_in = time.monotonic() - started
    assert all(w.process.poll() is None for w in workers), "a worker died under load"
    verdict = check_invariants(queue, ids, evidence=evidence, slots=SLOTS)
    assert verdict.states == {"completed": len(ids)}, verdict.states
    assert verdict.attempts == len(ids) and sum(evidence.starts().values()) == len(ids)
    assert max(evidence.starts().values()) == 1
    figure("load: jobs", f"{len(ids)} from {SUBMITTERS} submitters, {WORKERS} workers x {SLOTS} slots")
    figure("load: submitted / drained in", f"{submitted_in:.1f} s / {drained_in:.1f} s "
           f"({len(ids) / drained_in:.0f} jobs/s end to end); resource peaks {verdict.peak}")


def test_the_listing_stays_consistent_while_the_queue_churns(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], submitters: Submitters,
        evidence: Evidence, tmp_path: Path) -> None:
    start_worker("--slots", str(SLOTS), "--resource", "hardware", "--resource", "gpu=2", "--no-kernel")
    proc = submitters.start("churn", "load", str(sized(400, 2000)), "7", str(evidence.root))
    reads = 0
    while proc.poll() is None or queue.count(state=["pending", "running"]):
        listing = queue.store.active()           # the records one listing read, as a panel shows them
        assert len({j.id for j in listing}) == len(listing), "a job listed twice"
        assert all(j.state.value in ("waiting", "pending", "running") for j in listing)
        running = sum(1 for j in listing if j.state.value == "running")
        assert running <= SLOTS
        reads += 1
    assert proc.returncode == 0, submitters.log("churn")
    check_invariants(queue, submitters.acknowledged(), evidence=evidence, slots=SLOTS)
    figure("load: consistent listings read while churning", str(reads))
