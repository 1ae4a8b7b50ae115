"""Scenario 4: python jobs that kill their own Jupyter kernel, on the default worker."""
from __future__ import annotations

from collections.abc import Callable

import pytest

import jobmagics
from tests.conftest import WorkerProcess
from tests.reliability.invariants import check_invariants, figure

# Allocates (and touches) memory in 20 MB steps, but never more than 1.2 GB in all: on a
# worker that failed to enforce the limit the job completes and the test fails, without
# pushing a shared machine into trouble.
HOG = """
import time
chunks = []
for _ in range(60):
    chunks.append(b"x" * (20 << 20))
    time.sleep(0.02)
time.sleep(1)
"""

CRASHES = {
    "os._exit": ("import os\nprint('leaving', flush=True)\nos._exit(3)", None, "kernel died"),
    "segfault": ("import ctypes\nctypes.string_at(0)", None, "kernel died"),
    "memory": (HOG, "200M", "memory"),
}


@pytest.fixture
def kernel_worker(start_worker: Callable[..., WorkerProcess]) -> WorkerProcess:
    """The default worker: python jobs in Jupyter kernels (persistent one for ``hardware``)."""
    return start_worker("--slots", "2", "--resource", "hardware")


@pytest.mark.parametrize("where", ["fresh kernel", "persistent hardware kernel"])
@pytest.mark.parametrize("crash", sorted(CRASHES))
def test_a_job_that_kills_its_kernel_fails_with_a_clear_reason_and_the_worker_serves_on(
        queue: jobmagics.Queue, kernel_worker: WorkerProcess, crash: str, where: str) -> None:
    code, memory, reason = CRASHES[crash]
    resources = ["hardware"] if where.startswith("persistent") else []
    warm = queue.submit(code="x = 1", resources=resources).wait(120)
    assert warm.state == "completed", warm.log()
    job = queue.submit(code=code, memory=memory, resources=resources).wait(120)
    assert job.state == "failed", (job.state, job.error, job.log())
    assert reason in job.error and "\n" not in job.error, job.error
    after = queue.submit(code="print('still serving')", resources=resources).wait(120)
    assert after.state == "completed", (after.error, kernel_worker.output()[-2000:])
    assert "still serving" in after.log()
    assert kernel_worker.process.poll() is None, "the worker died with the kernel"
    assert after.worker == job.worker == warm.worker
    check_invariants(queue, [warm.id, job.id, after.id])
    figure(f"kernel crash ({crash}, {where})", job.error)
