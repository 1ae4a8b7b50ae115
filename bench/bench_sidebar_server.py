"""The sidebar's server side at lab scale: figures from a real `jupyter server`.

A queue of ``--stored`` finished jobs and ``--active`` active ones (a tenth of them needing
``hardware``, a twentieth held), then over HTTP:

1. the first page of ``GET queue`` (limit 100) and ``GET dashboard`` (median of 20 each;
   target: both together well under 200 ms);
2. the long poll's lag: ``GET changes`` waits, this process commits (hold or release a job),
   and the time from the start of that commit to the long poll's answer, p50/p90 over
   ``--changes`` commits (target p50 <= 30 ms; the old 0.1 s poll gave ~50 ms by design), with
   one long poll waiting, with ten at once (ten browser tabs: one watch serves them), and with
   one that asks the answer to bring the first 50 rows (``include=queue``, as the sidebar does).

Building the queue takes a minute or two: ``--keep DIR`` keeps it and reuses it next time.
Numbers are printed and merged into bench/results.json under "sidebar_server".

    python bench/bench_sidebar_server.py [--stored 1000000] [--active 1000] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_server import Server
from results import save

import jobmagics

CHUNK = 50_000


def build_queue(path: Path, stored: int, active: int) -> jobmagics.Queue:
    """``stored`` finished jobs, then ``active`` pending ones (every tenth needs hardware,
    every twentieth is held). Seeding only (as bench_server does): the finished jobs are
    submitted, then marked finished long ago in one UPDATE, not run."""
    q = jobmagics.Queue(path)
    for start in range(0, stored, CHUNK):
        q.submit_many([{"command": ["true"], "name": f"old{start + i}"}
                       for i in range(min(CHUNK, stored - start))])
    with q.store.db.write() as conn:
        conn.execute("UPDATE jobs SET state = 'completed', started_at = submitted_at,"
                      " finished_at = submitted_at, exit_code = 0, progress = 1.0")
    q.submit_many([{"command": ["true"], "name": f"active{i}",
                    "resources": ["hardware"] if i % 10 == 0 else [],
                    "hold": i % 20 == 1} for i in range(active)])
    return q


def median_ms(server: Server, route: str, times: int = 20) -> tuple[float, int]:
    samples, size = [], 0
    for _ in range(times):
        status, body, seconds = server.get(route)
        assert status == 200, (route, status, body[:300])
        samples.append(seconds * 1000)
        size = len(body)
    return round(statistics.median(samples), 2), size


def version_now(server: Server) -> int:
    status, body, _ = server.get("jobmagics/api/dashboard")
    assert status == 200
    return int(json.loads(body)["version"])


def lags(server: Server, q: jobmagics.Queue, job_id: str, changes: int,
         waiters: int, also: str = "") -> list[float]:
    """Milliseconds from the start of a commit to the last of ``waiters`` long polls' answers,
    once per change; ``also``: more arguments of the poll (``&include=queue&limit=50``)."""
    measured: list[float] = []
    for n in range(changes):
        version = version_now(server)
        answered: list[float] = []

        def wait(version: int = version, answered: list[float] = answered) -> None:
            status, body, _ = server.get(
                f"jobmagics/api/changes?version={version}&timeout=20{also}")
            answered.append(time.perf_counter())
            assert status == 200 and json.loads(body)["changed"], body

        threads = [threading.Thread(target=wait) for _ in range(waiters)]
        for thread in threads:
            thread.start()
        time.sleep(0.15)                      # all of them waiting
        start = time.perf_counter()
        q.hold(job_id) if n % 2 == 0 else q.release(job_id)
        for thread in threads:
            thread.join()
        measured.append((max(answered) - start) * 1000)
    return measured


def spread(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50_ms": round(statistics.median(ordered), 2),
            "p90_ms": round(ordered[int(len(ordered) * 0.9) - 1], 2),
            "max_ms": round(ordered[-1], 2), "n": len(ordered)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--active", type=int, default=1000)
    parser.add_argument("--changes", type=int, default=50)
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="build the queue in DIR and keep it; reuse it if it is there")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="jobmagics-bench-sidebar-"))
    try:
        folder = args.keep or home / "queue"
        if (folder / "jobs.db").exists():
            q = jobmagics.Queue(folder)
        else:
            t = time.perf_counter()
            q = build_queue(folder, args.stored, args.active)
            print(f"built {args.stored:,} finished + {args.active:,} active jobs"
                  f" in {time.perf_counter() - t:.0f} s")
        stored, active = q.count(), sum(q.store.active_counts().values())
        mover = q.submit(["true"], name="bench-mover", hold=True).id   # held and released
        server = Server(q.path, home)
        try:
            queue_ms, queue_bytes = median_ms(server, "jobmagics/api/queue?limit=100")
            board_ms, board_bytes = median_ms(server, "jobmagics/api/dashboard")
            q.release(mover)
            one = lags(server, q, mover, args.changes, 1)
            ten = lags(server, q, mover, max(10, args.changes // 5), 10)
            with_rows = lags(server, q, mover, args.changes, 1, "&include=queue&limit=50")
        finally:
            server.stop()
            q.cancel(mover)
            q.delete(mover)                   # the kept queue stays as it was built
    finally:
        shutil.rmtree(home, ignore_errors=True)
    figures = {"stored": stored, "active": active,
               "queue_first_page": {"p50_ms": queue_ms, "bytes": queue_bytes},
               "dashboard": {"p50_ms": board_ms, "bytes": board_bytes},
               "first_page_plus_dashboard_ms": round(queue_ms + board_ms, 2),
               "long_poll_lag": spread(one), "long_poll_lag_ten_tabs": spread(ten),
               "long_poll_lag_with_rows": spread(with_rows)}
    report(figures)
    save("sidebar_server", figures)
    return 0


def report(f: dict[str, Any]) -> None:
    print(f"at {f['stored']:,} stored jobs, {f['active']:,} active:")
    print(f"  GET queue?limit=100  p50 {f['queue_first_page']['p50_ms']} ms"
          f" ({f['queue_first_page']['bytes']:,} bytes)")
    print(f"  GET dashboard        p50 {f['dashboard']['p50_ms']} ms"
          f" ({f['dashboard']['bytes']:,} bytes)")
    together = f["first_page_plus_dashboard_ms"]
    print(f"  together {together} ms: {together / 200:.2f}x the 200 ms target")
    for label, key in (("one long poll", "long_poll_lag"),
                       ("ten long polls", "long_poll_lag_ten_tabs"),
                       ("one bringing the first 50 rows", "long_poll_lag_with_rows")):
        lag = f[key]
        print(f"  commit -> answer, {label}: p50 {lag['p50_ms']} ms, p90 {lag['p90_ms']} ms,"
              f" max {lag['max_ms']} ms over {lag['n']} commits"
              f" ({lag['p50_ms'] / 30:.2f}x the 30 ms target; {50 / lag['p50_ms']:.1f}x faster"
              " than the 0.1 s poll's ~50 ms)")


if __name__ == "__main__":
    sys.exit(main())
