"""An array's throttle under several workers, one of them SIGKILLed mid-run: kernel file
locks taken by the elements themselves prove that no more than P ran at once, and none twice."""
from __future__ import annotations

import signal
import time
from collections.abc import Callable

import jobmagics
from tests.conftest import WorkerProcess, wait_for
from tests.reliability.invariants import Evidence, check_invariants, figure, sized

ELEMENTS = sized(24, 300)
PARALLEL = 3
WORKER_ARGS = ("--slots", "2", "--no-kernel")


def test_no_more_than_parallel_elements_run_at_once_whatever_the_workers_do(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess],
        evidence: Evidence) -> None:
    workers = [start_worker(*WORKER_ARGS) for _ in range(3)]
    # every element takes one of PARALLEL lock files, or records that it found none free
    array = queue.submit_array(evidence.command(0.3, "array-slot", PARALLEL),
                               items=range(ELEMENTS), parallel=PARALLEL, retries=3,
                               retry_delay=0.05)
    wait_for(lambda: array.refresh().counts["running"] == PARALLEL, timeout=60)
    busy = [w for w in workers if queue.store.running_on(_worker_id(queue, w) or "")]
    (busy or workers)[0].stop(signal.SIGKILL)     # its elements are recovered, still slotted
    start_worker(*WORKER_ARGS)
    started = time.monotonic()
    assert array.wait(300).state is jobmagics.model.State.COMPLETED
    figure("array drained after a worker SIGKILL", f"{ELEMENTS} elements, %{PARALLEL},"
           f" {time.monotonic() - started:.1f} s")
    elements = [job.id for job in array.elements]
    verdict = check_invariants(queue, elements, evidence=evidence)
    assert verdict.states["completed"] == ELEMENTS
    assert sum(evidence.starts().values()) >= ELEMENTS
    assert evidence.violations() == []


def test_the_throttle_holds_while_elements_are_held_released_and_retried(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess],
        evidence: Evidence) -> None:
    for _ in range(2):
        start_worker(*WORKER_ARGS)
    array = queue.submit_array(evidence.command(0.2, "array-slot", 2), items=range(12),
                               parallel=2)
    wait_for(lambda: array.refresh().counts["running"] >= 1, timeout=60)
    array.hold()
    array.release()
    for job in array.elements_page(limit=3):
        if not job.done:
            job.cancel()
    array.wait(120)
    array.retry()
    assert array.wait(120).state is jobmagics.model.State.COMPLETED
    check_invariants(queue, [job.id for job in array.elements], evidence=evidence)


def _worker_id(queue: jobmagics.Queue, worker: WorkerProcess) -> str | None:
    return next((w["id"] for w in queue.workers() if w["pid"] == worker.pid), None)
