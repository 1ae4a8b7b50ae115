"""Moves and edits on a big queue: how long `move --top`, `move --before`, `move --bottom`,
`set --priority` take with N pending jobs in one priority (default 100,000), and the worst
case, a move that finds no room between two keys and renumbers the line first. Prints the
numbers (median and max of several, ms). Usage: ``bench_edits.py [--jobs N]``."""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jobmagics
from jobmagics.model import JobSpec

TIMES = 20


def fill(queue: jobmagics.Queue, n: int) -> list[str]:
    """N pending command jobs, submitted in batches of 10,000 (one transaction each)."""
    spec = JobSpec(kind="command", command=["true"], cwd="/tmp").validate()
    ids: list[str] = []
    for start in range(0, n, 10_000):
        count = min(10_000, n - start)
        ids += queue.store.submit([spec] * count, queue.user, queue.host, [None] * count)
    return ids


def timed(action: Callable[[int], object], times: int = TIMES) -> tuple[float, float]:
    spent = []
    for turn in range(times):
        started = time.perf_counter()
        action(turn)
        spent.append((time.perf_counter() - started) * 1000)
    return statistics.median(spent), max(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        q = jobmagics.Queue(Path(folder) / "queue")
        started = time.monotonic()
        ids = fill(q, args.jobs)
        print(f"{args.jobs:,} pending jobs made in {time.monotonic() - started:.1f} s")
        middle = ids[len(ids) // 2]
        results = {
            "move --top": timed(lambda t: q.move(ids[-1 - t], top=True)),
            "move --before (middle)": timed(lambda t: q.move(ids[t], before=middle)),
            "move --bottom": timed(lambda t: q.move(ids[t], bottom=True)),
            "set --priority": timed(lambda t: q.update(ids[100 + t], priority=1 + t % 3)),
            "set --timeout, 100 ids": timed(lambda t: q.update(ids[1000:1100], timeout=60 + t),
                                            times=5),
        }
        # 60 bottoms in a row with no submission between: the gap halves each time and runs out
        bottoms = timed(lambda t: q.move(ids[200 + t], bottom=True), times=60)
        results["move --bottom x60 (one renumbers)"] = bottoms
        for what, (median, worst) in results.items():
            print(f"{what:36} median {median:8.2f} ms   max {worst:8.2f} ms")


if __name__ == "__main__":
    main()
