"""`make bench`: the core figures of jobmagics on this machine, printed and saved to
bench/results.json.

Each figure is printed next to its target (2-core machine) and, where one exists, its floor."""
from __future__ import annotations

import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from results import save, stamp

import jobmagics
from jobmagics.liveness import process_start_time
from jobmagics.model import WorkerRecord
from jobmagics.store import Capacity
from kernel_worker import WorkerHandle, spawn


def fresh_queue(base: Path, name: str) -> jobmagics.Queue:
    return jobmagics.Queue(base / name)


def start_worker(q: jobmagics.Queue, *args: str) -> WorkerHandle:
    return spawn(q, "--no-kernel", *args)


def rate(count: int, fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return count / (time.perf_counter() - started)


def bench_submits(base: Path, n: int = 3000) -> dict[str, float]:
    q = fresh_queue(base, "submits")
    single = rate(n, lambda: [q.submit(command=["true"]) for _ in range(n)])
    bulk_n = 20000
    bulk = rate(bulk_n, lambda: q.submit_many([{"command": ["true"]}] * bulk_n))
    return {"api_submits_per_s": single, "bulk_submits_per_s": bulk}


def _claimer(path: str, out: Any) -> None:
    q = jobmagics.Queue(path)
    capacity = Capacity(slots=1, memory=1 << 40)
    count = 0
    while q.store.claim(f"bench-{os.getpid()}", capacity, limit=1):
        count += 1
    out.put(count)


def bench_claims(base: Path, n: int = 6000) -> dict[str, float]:
    results = {}
    for workers in (1, 2, 4):
        q = fresh_queue(base, f"claims{workers}")
        q.submit_many([{"command": ["true"]}] * n)
        out: Any = multiprocessing.Queue()
        procs = [multiprocessing.Process(target=_claimer, args=(str(q.path), out))
                 for _ in range(workers)]
        started = time.perf_counter()
        for p in procs:
            p.start()
        claimed = sum(out.get() for _ in procs)
        elapsed = time.perf_counter() - started
        for p in procs:
            p.join()
        assert claimed == n, (claimed, n)
        results[f"claims_per_s_{workers}_workers"] = n / elapsed
    return results


def bench_tiny_jobs(base: Path, n: int = 1000) -> dict[str, float]:
    floor = rate(n, lambda: [subprocess.run(["true"], check=False) for _ in range(n)])
    q = fresh_queue(base, "tiny")
    worker = start_worker(q, "--slots", "2")
    try:
        def drain() -> None:
            q.submit_many([{"command": ["true"]}] * n)
            while q.count(state=["pending", "running"]):
                time.sleep(0.005)
        throughput = rate(n, drain)
    finally:
        worker.stop()
    return {"tiny_jobs_per_s_2_slots": throughput, "floor_subprocess_run_per_s": floor,
            "tiny_jobs_ratio_to_floor": throughput / floor}


def bench_function_jobs(base: Path, n: int = 500) -> dict[str, float]:
    """Tiny function jobs (forked from the worker's zygote): throughput, and submit to the
    moment the function body runs."""
    q = fresh_queue(base, "functions")
    worker = start_worker(q, "--slots", "2")
    try:
        def drain() -> None:
            for job in q.submit_many([{"function": abs, "args": (-i,)} for i in range(n)]):
                job.wait(120)
        throughput = rate(n, drain)
        delays = []
        for _ in range(50):
            job = q.submit(function=time.time)
            delays.append((job.result(60) - job.submitted_at) * 1000)
            time.sleep(0.01)
    finally:
        worker.stop()
    return {"function_jobs_per_s_2_slots": throughput,
            "function_submit_to_body_p50_ms": statistics.median(delays)}


def bench_python_jobs(base: Path, n: int = 100, rounds: int = 30) -> dict[str, float]:
    """Python cell jobs (``q.submit(code=...)``), each in a fresh kernel of its own, one worker
    with 2 slots: throughput of a batch, and submit to the first line the cell prints."""
    q = fresh_queue(base, "python")
    worker = spawn(q, "--slots", "2")
    try:
        q.submit(code="print('warm')").wait(300)     # the kernel zygote's imports, the spares
        def drain() -> None:
            for job in q.submit_many([{"code": f"x = {i}\nprint(x)"} for i in range(n)]):
                job.wait(300)
        throughput = rate(n, drain)
        delays = []
        for _ in range(rounds):
            job = q.submit(code="import time\nprint(time.time())")
            job.wait(120)
            delays.append((float(job.log().split()[0]) - job.submitted_at) * 1000)
            time.sleep(0.3)   # an idle worker: its spare kernels ready again
    finally:
        worker.stop()
    return {"python_jobs_per_s_2_slots": throughput,
            "python_submit_to_first_line_p50_ms": statistics.median(delays)}


def bench_latency(base: Path, n: int = 300) -> dict[str, float]:
    q = fresh_queue(base, "latency")
    worker = start_worker(q, "--slots", "2")
    delays = []
    try:
        for _ in range(n):
            job = q.submit(command=["true"])
            job.wait(30)
            delays.append((job.started_at - job.submitted_at) * 1000)
            time.sleep(0.01)   # an idle worker: let it settle back into waiting
    finally:
        worker.stop()
    delays.sort()
    return {"submit_to_start_p50_ms": statistics.median(delays),
            "submit_to_start_p99_ms": delays[int(len(delays) * 0.99) - 1]}


def bench_run_overhead(base: Path, n: int = 200) -> dict[str, float]:
    q = fresh_queue(base, "run")
    worker = start_worker(q, "--slots", "2")
    plain, queued = [], []
    try:
        for _ in range(n):
            t = time.perf_counter()
            subprocess.run(["true"], check=False)
            plain.append(time.perf_counter() - t)
            t = time.perf_counter()
            jobmagics.run(["true"], queue=q)
            queued.append(time.perf_counter() - t)
    finally:
        worker.stop()
    return {"subprocess_run_median_ms": statistics.median(plain) * 1000,
            "jobmagics_run_median_ms": statistics.median(queued) * 1000,
            "run_overhead_median_ms": (statistics.median(queued) - statistics.median(plain)) * 1000}


# ---- listings at 1M stored jobs, 200k of them pending (issue 8) ------------------------------
BIG_STORED, BIG_PENDING, BIG_RUNNING = 1_000_000, 200_000, 8
_SERIES = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count) "
_BULK_INSERT = _SERIES + """
INSERT INTO jobs(id, kind, name, user, host, state, priority, submitted_at, started_at, finished_at,
                 exit_code, error, worker, progress, cwd, command)
SELECT printf('JOB-20250101-%07d', :first + i), 'command', 'job-' || (:first + i), :user, :host,
       CASE WHEN :state = 'finished' THEN (CASE WHEN i % 20 = 0 THEN 'failed' ELSE 'completed' END)
            ELSE :state END,
       i % 3, :t0 + (:first + i) * 0.01,
       CASE WHEN :state IN ('finished', 'running') THEN :t0 + (:first + i) * 0.01 + 1 END,
       CASE WHEN :state = 'finished' THEN :t0 + (:first + i) * 0.01 + 2 END,
       CASE WHEN :state = 'finished' THEN (CASE WHEN i % 20 = 0 THEN 1 ELSE 0 END) END,
       CASE WHEN :state = 'finished' AND i % 20 = 0 THEN 'exit code 1' END,
       CASE WHEN :state = 'running' THEN :worker END, NULL, '/home/lab',
       '["python","fit.py","--point","' || i || '"]'
FROM n
"""


def big_queue(base: Path) -> jobmagics.Queue:
    """1M stored jobs (800k finished, 200k pending, a few running on a live worker), built with
    bulk inserts in a few big transactions (about a minute; the API would take several);
    cached in the run's temp folder for every figure that needs it."""
    path = base / "big-queue"
    if (path / ".built").exists():
        return jobmagics.Queue(path)
    q = jobmagics.Queue(path)
    me = WorkerRecord(id="bench-worker", host=q.host, pid=os.getpid(),
                      pid_started=process_start_time(os.getpid()) or 0.0, user=q.user,
                      started_at=time.time(), heartbeat_at=time.time(), slots=BIG_RUNNING,
                      memory=None, resources={}, only_user=None, state="running")
    q.store.register_worker(me)               # alive (this process): its jobs are not "lost"
    finished = BIG_STORED - BIG_PENDING - BIG_RUNNING
    parts = [("finished", 0, finished), ("running", finished, BIG_RUNNING),
             ("pending", finished + BIG_RUNNING, BIG_PENDING)]
    chunk = 200_000
    for state, first, count in parts:
        for start in range(0, count, chunk):
            with q.store.db.write() as conn:
                conn.execute(_BULK_INSERT, {
                    "count": min(chunk, count - start), "first": first + start, "user": q.user,
                    "host": q.host, "state": state, "t0": time.time() - BIG_STORED * 0.01,
                    "worker": me.id})
    (path / ".built").touch()
    return q


def _median_ms(call: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench_listings(base: Path) -> dict[str, float]:
    """`jobmagics queue` and `jobmagics history --limit 20` at 1M stored / 200k pending: the
    query (API call, as the CLI makes it) and the CLI's wall time, start-up included."""
    built = time.perf_counter()
    q = big_queue(base)
    build_s = time.perf_counter() - built
    q.store.checkpoint()
    lost = [j.id for j in q.queue(limit=BIG_RUNNING) if j.last_read.worker_lost_at is not None]
    assert not lost, f"the bench's own worker record should be alive: {lost}"
    assert q.store.active_counts() == {"running": BIG_RUNNING, "pending": BIG_PENDING, "waiting": 0}

    def cli(*args: str) -> None:
        subprocess.run([sys.executable, "-m", "jobmagics", "--queue", str(q.path), *args],
                       check=True, stdout=subprocess.DEVNULL)

    finished = ["completed", "failed", "cancelled", "timeout"]
    return {
        "queue_first_page_api_ms": _median_ms(lambda: q.queue(limit=50), 20),
        "history_limit_20_api_ms": _median_ms(lambda: q.history(limit=21), 20),
        # what the sidebar asks besides: its own jobs' page, a history page with its total, stats
        "queue_mine_first_page_api_ms": _median_ms(lambda: q.queue(limit=50, user=q.user), 20),
        "history_page_and_total_api_ms": _median_ms(
            lambda: (q.jobs(state=finished, limit=50), q.count(state=finished)), 20),
        "stats_api_ms": _median_ms(q.stats, 20),
        "queue_cli_wall_ms": _median_ms(lambda: cli("queue"), 5),
        "history_cli_wall_ms": _median_ms(lambda: cli("history", "--limit", "20"), 5),
        "cli_startup_help_ms": _median_ms(lambda: cli("--help"), 5),
        "big_queue_build_s": build_s,
    }


TARGETS = {
    "api_submits_per_s": (">=", 5000), "bulk_submits_per_s": (">=", 5000),
    "claims_per_s_1_workers": (">=", 5000), "claims_per_s_2_workers": (">=", 5000),
    "claims_per_s_4_workers": (">=", 5000), "tiny_jobs_per_s_2_slots": (">=", 300),
    "submit_to_start_p50_ms": ("<=", 5), "submit_to_start_p99_ms": ("<=", 20),
    "run_overhead_median_ms": ("<=", 10),
    "function_jobs_per_s_2_slots": (">=", 1000), "python_jobs_per_s_2_slots": (">=", 20),
    "python_submit_to_first_line_p50_ms": ("<=", 50),
    "queue_first_page_api_ms": ("<=", 50), "history_limit_20_api_ms": ("<=", 50),
    "queue_mine_first_page_api_ms": ("<=", 50), "history_page_and_total_api_ms": ("<=", 50),
    "stats_api_ms": ("<=", 50),
}


def report(results: dict[str, float]) -> None:
    print(f"{'figure':34} {'value':>12}  target")
    for key, value in results.items():
        target = TARGETS.get(key)
        verdict = ""
        if target:
            op, goal = target
            met = value >= goal if op == ">=" else value <= goal
            verdict = f"{op} {goal:<6} {'met' if met else 'MISSED'}"
        print(f"{key:34} {value:12.2f}  {verdict}")


def main() -> None:
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="jobmagics-bench-") as tmp:
        base = Path(tmp)
        for bench in (bench_submits, bench_claims, bench_tiny_jobs, bench_function_jobs,
                      bench_python_jobs, bench_latency, bench_run_overhead, bench_listings):
            results.update(bench(base))
    report(results)
    path = save("core", {k: round(v, 3) for k, v in results.items()} | stamp())
    print(f"\nsaved to {path}")


if __name__ == "__main__":
    main()
