"""`python bench/bench_arrays.py`: many jobs as one (issue 11), each figure next to its target
(2-core machine) and its comparison.

(a) ``Executor.map`` and ``q.map`` over 100,000 tiny function items, chunks chosen
    automatically, one worker ``--slots 2``: items/s (target >= 20,000/s; every item's result
    is kept in the queue), next to ``ProcessPoolExecutor(2).map`` with the same chunksize.
(b) an array of 10,000 ``true`` command elements with ``%2``: the submit (target < 1 s) and
    the drain rate, next to 10,000 separate ``true`` jobs on the same worker (and the same
    array without its throttle).
"""
from __future__ import annotations

import concurrent.futures as cf
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jobmagics
from jobmagics.chunks import auto_chunksize
from kernel_worker import WorkerHandle, spawn


def tiny(x: int) -> int:
    return x + 1


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def start_worker(q: jobmagics.Queue) -> WorkerHandle:
    return spawn(q, "--slots", "2", "--no-kernel")


def bench_map(base: Path, n: int = 100_000) -> dict[str, float]:
    """Items per second through the queue's map (chunks chosen for 2 slots) and the stdlib's."""
    expected = [tiny(i) for i in range(n)]
    q = jobmagics.Queue(base / "map")
    worker = start_worker(q)
    try:
        list(q.map(tiny, range(100)))                     # the worker's zygote is up
        with jobmagics.Executor(queue=q) as executor:
            executor_s, got = timed(lambda: list(executor.map(tiny, range(n), chunksize=None)))
        assert got == expected
        queue_s, got = timed(lambda: list(q.map(tiny, range(n))))
        assert got == expected
    finally:
        worker.stop()
    chunksize = auto_chunksize(n, 2)
    with cf.ProcessPoolExecutor(2) as pool:
        list(pool.map(tiny, range(100)))                  # its processes are up
        pool_s, got = timed(lambda: list(pool.map(tiny, range(n), chunksize=chunksize)))
    assert got == expected
    return {"executor_map_items_per_s": n / executor_s, "queue_map_items_per_s": n / queue_s,
            "process_pool_map_items_per_s": n / pool_s, "map_chunksize": chunksize}


def drain_array(q: jobmagics.Queue, n: int, parallel: int | None) -> tuple[float, float]:
    """Submit an array of ``n`` ``true`` elements and wait for all: (submit s, drain s)."""
    started = time.perf_counter()
    array = q.submit_array(["true"], items=range(n), parallel=parallel)
    submitted = time.perf_counter() - started
    array.wait(1200)
    assert array.counts["completed"] == n, array.counts
    return submitted, time.perf_counter() - started


def bench_array(base: Path, n: int = 10_000) -> dict[str, float]:
    """An array of ``n`` ``true`` elements with ``%2``: submit time and drain rate; then on
    the same worker ``n`` separate ``true`` jobs, and the array without its throttle."""
    q = jobmagics.Queue(base / "array")
    worker = start_worker(q)
    try:
        submit_s, array_drain_s = drain_array(q, n, parallel=2)
        started = time.perf_counter()
        q.submit_many([{"command": ["true"]}] * n)
        jobs_submit_s = time.perf_counter() - started
        while q.count(state=["waiting", "pending", "running"]):
            time.sleep(0.01)
        jobs_drain_s = time.perf_counter() - started
        _, free_drain_s = drain_array(q, n, parallel=None)
    finally:
        worker.stop()
    return {"array_submit_s": submit_s, "array_drain_per_s": n / array_drain_s,
            "separate_submit_s": jobs_submit_s, "separate_drain_per_s": n / jobs_drain_s,
            "unthrottled_array_drain_per_s": n / free_drain_s}


TARGETS = {"executor_map_items_per_s": ">= 20,000/s", "queue_map_items_per_s": ">= 20,000/s",
           "array_submit_s": "< 1 s", "array_drain_per_s": "as separate jobs"}


def report(results: dict[str, float]) -> None:
    for name, value in results.items():
        target = TARGETS.get(name)
        print(f"{name:32s} {value:12,.2f}" + (f"   (target {target})" if target else ""))


def main() -> None:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="jobmagics-bench-arrays-") as tmp:
        for bench in (bench_map, bench_array):
            results.update(bench(Path(tmp)))
    report(results)


if __name__ == "__main__":
    main()
