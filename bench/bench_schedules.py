"""`python bench/bench_schedules.py`: how late a schedule's run is submitted after its due
time, by real workers (each runs the schedules chore; the first to take the queue's write lock
submits, the others find nothing due).

An ``every 2s`` schedule over 20 ticks, two workers ``--slots 2``: for each run, its job's
``submitted_at`` minus the due time its submission event names; and, for a feel of the whole
path, the due time to the job's start. p50 and max, printed (no target: issue 12 asks for the
numbers)."""
from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jobmagics
from kernel_worker import spawn

TICKS = 20
EVERY = 2.0
DUE_RE = re.compile(r"\(schedule \S+, due (\S+)\)")


def due_time(q: jobmagics.Queue, job_id: str) -> float:
    found = DUE_RE.search(q.events(job_id)[0]["detail"])
    assert found is not None
    return datetime.fromisoformat(found.group(1)).timestamp()


def lateness(base: Path, workers: int) -> dict[str, list[float]]:
    q = jobmagics.Queue(base)
    handles = [spawn(q, "--slots", "2", "--no-kernel") for _ in range(workers)]
    try:
        schedule = q.schedule("bench", every=EVERY, overlap="queue", command=["true"])
        deadline = time.monotonic() + TICKS * EVERY + 30
        while len(schedule.runs(limit=None)) < TICKS and time.monotonic() < deadline:
            time.sleep(0.2)
        schedule.pause()
        runs = [job.wait(30) for job in schedule.runs(limit=None)][:TICKS]
    finally:
        for handle in handles:
            handle.stop()
    submitted, started = [], []
    for job in runs:
        due = due_time(q, job.id)
        submitted.append(job.record.submitted_at - due)
        started.append(float(job.record.started_at or 0) - due)
    return {"submitted": submitted, "started": started}


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": statistics.median(values) * 1000, "max_ms": max(values) * 1000,
            "n": len(values)}


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="jobmagics-bench-") as tmp:
        found = lateness(Path(tmp) / "queue", workers=2)
    results = {f"due_to_{what}": summary(values) for what, values in found.items()}
    print(f"schedules: every {EVERY:g}s, {TICKS} ticks, 2 workers")
    for name, figures in results.items():
        print(f"  {name:18} p50 {figures['p50_ms']:7.1f} ms   max {figures['max_ms']:7.1f} ms"
              f"   ({figures['n']:.0f} runs)")
    return results


if __name__ == "__main__":
    main()
