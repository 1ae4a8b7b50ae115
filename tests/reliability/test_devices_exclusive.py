"""Two workers on one machine declaring the same four GPUs share them: no unit is ever given
to two live jobs, whichever worker claims (units are per machine; see README "Devices").
Evidence: each job takes a kernel file lock per unit it was given, without waiting."""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import jobmagics
from jobmagics.model import State
from tests.conftest import WorkerProcess
from tests.reliability.invariants import figure, sized
from tests.test_devices import holder

UNITS = ["0", "1", "2", "3"]


def test_two_workers_on_one_machine_never_give_a_unit_twice(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], tmp_path: Path) -> None:
    for _ in range(2):
        start_worker("--slots", "4", "--resource", "gpu=" + ",".join(UNITS))
    count = sized(16, 200)
    jobs = [queue.submit(holder(tmp_path, 0.3), resources=[f"gpu:{1 + i % 2}"])
            for i in range(count)]
    for job in jobs:
        job.wait(120 + count)
    violations = tmp_path / "violations"
    assert not violations.exists(), violations.read_text()
    by_worker: Counter[str] = Counter()
    for i, job in enumerate(jobs):
        record = job.record
        assert record.state is State.COMPLETED, (record.error, job.log())
        units = (record.units or {}).get("gpu", [])
        assert len(units) == 1 + i % 2 and set(units) <= set(UNITS)
        assert f"cuda {','.join(units)} " in job.log()
        by_worker[record.worker or "?"] += 1
    figure("devices: jobs per worker (two workers, gpu=0,1,2,3 each)",
           ", ".join(str(n) for n in sorted(by_worker.values())))
