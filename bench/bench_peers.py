"""`make bench-peers`: jobmagics side by side with what users would pick instead, in one run.

Workloads: tiny command jobs (`true`) and tiny function jobs (return a number). For each system:
throughput (a burst of N jobs, submit to all done) and submit-to-start latency (one job at a
time on an idle system; "start" is the moment the job's own body runs, stamped inside it).
Floors: `subprocess.run` for commands, an in-process call for functions. Also queue listing at
100k and 1M stored jobs. Writes bench/peers.json and bench/peers.png; prints a markdown table.
Needs `pip install -e .[bench]` (huey, submitit, matplotlib) and, for SLURM, root or a running
single-node SLURM (.ci/slurm-up)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import jobmagics
from kernel_worker import WorkerHandle, spawn

OUT_JSON, OUT_PNG = HERE / "peers.json", HERE / "peers.png"
LATENCY_ROUNDS = 30


def stamp(x: int = 0) -> float:
    """The tiny function job: returns when its body ran."""
    return time.time()


if __name__ != "__main__":        # imported: send stamp by value, as when run as a script
    import cloudpickle
    cloudpickle.register_pickle_by_value(sys.modules[__name__])


def rate(n: int, burst: Callable[[], None]) -> float:
    started = time.perf_counter()
    burst()
    return n / (time.perf_counter() - started)


def latency(one: Callable[[], float], rounds: int = LATENCY_ROUNDS) -> dict[str, float]:
    """``one()`` submits a job and returns the wall time its body started."""
    delays = []
    for _ in range(rounds):
        t0 = time.time()
        delays.append((one() - t0) * 1000)
        time.sleep(0.05)                       # idle again between jobs
    delays.sort()
    return {"latency_p50_ms": statistics.median(delays),
            "latency_p90_ms": delays[int(len(delays) * 0.9) - 1]}


# ---- floors ---------------------------------------------------------------------------
def floor_command(n: int) -> dict[str, Any]:
    through = rate(n, lambda: [subprocess.run(["true"], check=False) for _ in range(n)])
    lat = latency(lambda: float(subprocess.run(["date", "+%s.%N"], capture_output=True, text=True,
                                               check=True).stdout))
    return {"throughput_per_s": through, **lat, "n": n}


def floor_function(n: int) -> dict[str, Any]:
    through = rate(n, lambda: [stamp(i) for i in range(n)])
    return {"throughput_per_s": through, **latency(stamp), "n": n}


# ---- peers ----------------------------------------------------------------------------
def process_pool(n: int) -> dict[str, Any]:
    with ProcessPoolExecutor(2) as pool:
        pool.submit(stamp).result()            # warm
        through = rate(n, lambda: [f.result() for f in [pool.submit(stamp, i) for i in range(n)]])
        lat = latency(lambda: pool.submit(stamp).result())
    return {"throughput_per_s": through, **lat, "n": n, "settings": "2 processes, warm"}


HUEY_TASKS = """
import time
from huey import SqliteHuey
huey = SqliteHuey(filename={db!r})

@huey.task()
def stamp(x=0):
    return time.time()
"""


def huey_sqlite(n: int, tmp: Path) -> dict[str, Any]:
    folder = tmp / "huey"
    folder.mkdir()
    (folder / "peer_huey_tasks.py").write_text(HUEY_TASKS.format(db=str(folder / "huey.db")))
    sys.path.insert(0, str(folder))
    import peer_huey_tasks as tasks  # type: ignore[import-not-found]
    flags = ["-w", "2", "-k", "process", "-d", "0.01", "-m", "0.1", "-b", "1.15"]
    consumer = subprocess.Popen([sys.executable, "-m", "huey.bin.huey_consumer",
                                 "peer_huey_tasks.huey", *flags],
                                cwd=folder, env=dict(os.environ, PYTHONPATH=str(folder)),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        tasks.stamp(0).get(blocking=True, timeout=60)
        through = rate(n, lambda: [r.get(blocking=True, timeout=300)
                                   for r in [tasks.stamp(i) for i in range(n)]])
        lat = latency(lambda: tasks.stamp(0).get(blocking=True, timeout=60))
    finally:
        consumer.terminate()
        consumer.wait(30)
    return {"throughput_per_s": through, **lat, "n": n, "settings": "consumer " + " ".join(flags)}


def submitit_local(n: int, tmp: Path) -> dict[str, Any]:
    import submitit
    executor = submitit.LocalExecutor(folder=str(tmp / "submitit"))
    executor.update_parameters(timeout_min=10)
    through = rate(n, lambda: [j.result() for j in [executor.submit(stamp, i) for i in range(n)]])
    lat = latency(lambda: executor.submit(stamp).result(), rounds=10)
    return {"throughput_per_s": through, **lat, "n": n,
            "settings": "LocalExecutor (a process per job)"}


def slurm(n: int, tmp: Path) -> dict[str, Any]:
    from bench_slurm import ensure_slurm, slurm_settings
    ensure_slurm()
    out = tmp / "slurm"
    out.mkdir()

    def sbatch(wrap: str, name: str) -> None:
        subprocess.run(["sbatch", "--parsable", "-o", str(out / name), "--wrap", wrap], check=True,
                       capture_output=True)

    def all_written(names: list[str]) -> bool:
        return all((out / m).exists() and (out / m).stat().st_size > 0 for m in names)

    def burst() -> None:
        names = [f"b{i}" for i in range(n)]
        for m in names:
            sbatch("true; echo done", m)
        wait(lambda: all_written(names), 1800)

    def one() -> float:
        name = f"l{time.monotonic_ns()}"
        sbatch("date +%s.%N", name)
        wait(lambda: all_written([name]), 120)
        return float((out / name).read_text())
    through = rate(n, burst)
    return {"throughput_per_s": through, **latency(one, rounds=10), "n": n,
            "settings": slurm_settings()}


def wait(done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("a peer did not finish its jobs in time")
        time.sleep(0.01)


# ---- jobmagics ------------------------------------------------------------------------
def jobmagics_worker(q: jobmagics.Queue, *args: str) -> WorkerHandle:
    return spawn(q, "--slots", "2", *args, timeout=60)


def jobmagics_commands(n: int, tmp: Path) -> dict[str, Any]:
    q = jobmagics.Queue(tmp / "jm-commands")
    worker = jobmagics_worker(q, "--no-kernel")
    try:
        def burst() -> None:
            q.submit_many([{"command": ["true"]}] * n)
            wait(lambda: q.count(state=["pending", "running"]) == 0, 600)
        through = rate(n, burst)
        lat = latency(lambda: float(q.submit(command=["date", "+%s.%N"]).wait(60).log()))
    finally:
        worker.stop()
    return {"throughput_per_s": through, **lat, "n": n, "settings": "1 worker, 2 slots"}


def jobmagics_functions(n: int, tmp: Path) -> dict[str, Any]:
    q = jobmagics.Queue(tmp / "jm-functions")
    worker = jobmagics_worker(q, "--no-kernel")
    try:
        def burst() -> None:
            jobs = q.submit_many([{"function": stamp, "args": (i,)} for i in range(n)])
            for job in jobs:
                job.result(600)
        through = rate(n, burst)
        lat = latency(lambda: q.submit(function=stamp).result(60))
    finally:
        worker.stop()
    return {"throughput_per_s": through, **lat, "n": n,
            "settings": "1 worker, 2 slots, a process per job"}


def listing(size: int, tmp: Path) -> dict[str, float]:
    """What the panel reads at ``size`` stored jobs: the active queue and one page of history."""
    q = jobmagics.Queue(tmp / f"listing-{size}")
    chunk = 50_000
    for start in range(0, size, chunk):
        q.submit_many([{"command": ["true"], "name": f"j{start + i}"}
                       for i in range(min(chunk, size - start))])
    with q.store.db.write() as conn:           # seed: all but the newest 100 finished long ago
        conn.execute("UPDATE jobs SET state = 'completed', finished_at = submitted_at,"
                     " exit_code = 0 WHERE seq <= (SELECT max(seq) - 100 FROM jobs)")
    calls = {"queue()": q.queue, "jobs(limit=50)": lambda: q.jobs(limit=50),
             "history(limit=50)": lambda: q.history(limit=50), "count()": q.count,
             "jobs(user, state, limit=50)":
                 lambda: q.jobs(user=q.user, state="completed", limit=50)}
    result = {}
    for label, call in calls.items():
        times = []
        for _ in range(20):
            t = time.perf_counter()
            call()
            times.append((time.perf_counter() - t) * 1000)
        result[f"{label} ms"] = statistics.median(times)
    shutil.rmtree(q.path, ignore_errors=True)
    return result


# ---- report -----------------------------------------------------------------------------
WORKLOADS = {
    "command": ("floor: subprocess.run", ["SLURM sbatch", "jobmagics"]),
    "function": ("floor: in-process call",
                 ["ProcessPoolExecutor", "huey (SqliteHuey)", "submitit local", "jobmagics"]),
}


def ratios(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Throughput: floor / system and jobmagics / peer. Latency: system / jobmagics."""
    out: dict[str, Any] = {}
    for workload, (floor, peers) in WORKLOADS.items():
        rows = results.get(workload, {})
        jm, base = rows.get("jobmagics"), rows.get(floor)
        for name in peers:
            row = rows.get(name)
            if row is None:
                continue
            entry = {}
            throughput = row["throughput_per_s"]
            if base:
                entry["floor_throughput_over_this"] = base["throughput_per_s"] / throughput
            if jm and name != "jobmagics":
                entry["jobmagics_throughput_over_this"] = jm["throughput_per_s"] / throughput
                entry["this_latency_over_jobmagics"] = row["latency_p50_ms"] / jm["latency_p50_ms"]
            out[f"{workload}: {name}"] = entry
    return out


def markdown(results: dict[str, dict[str, Any]]) -> str:
    header = ("| workload | system | jobs | throughput (jobs/s) | x floor |"
              " submit-to-start p50 (ms) |")
    lines = [header, "|---|---|---:|---:|---:|---:|"]
    for workload, (floor, peers) in WORKLOADS.items():
        rows = results.get(workload, {})
        base = rows.get(floor, {}).get("throughput_per_s")
        for name in [floor, *peers]:
            row = rows.get(name)
            if row is None:
                continue
            through = row["throughput_per_s"]
            slower = f"{base / through:.1f}x slower" if base and name != floor else "floor"
            lines.append(f"| {workload} | {name} | {row['n']} | {through:,.0f} | {slower} |"
                         f" {row['latency_p50_ms']:.2f} |")
    for size, row in results.get("listing", {}).items():
        lines.append(f"| listing | jobmagics at {int(size):,} jobs | | | |"
                     f" queue() {row['queue() ms']:.1f},"
                     f" history page {row['history(limit=50) ms']:.1f} |")
    return "\n".join(lines)


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    labels, through, lat = [], [], []
    for workload, (floor, peers) in WORKLOADS.items():
        for name in [floor, *peers]:
            row = results.get(workload, {}).get(name)
            if row:
                labels.append(f"{name}\n({workload})")
                through.append(row["throughput_per_s"])
                lat.append(row["latency_p50_ms"])
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.5))
    for ax, values, title in ((axes[0], through, "tiny-job throughput (jobs/s, log)"),
                              (axes[1], lat, "submit-to-start latency p50 (ms, log)")):
        colors = ["tab:orange" if "jobmagics" in lab else "tab:gray" if "floor" in lab
                  else "tab:blue" for lab in labels]
        ax.barh(labels, values, color=colors)
        ax.set_xscale("log")
        ax.set_title(title)
        ax.invert_yaxis()
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:,.3g}", va="center", fontsize=8)
    fig.suptitle(f"jobmagics and its peers on one {os.cpu_count()}-core machine")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="tiny jobs per burst (default 1000)")
    parser.add_argument("--slurm-n", type=int, default=100,
                        help="SLURM burst size (~3 jobs/s: default 100)")
    parser.add_argument("--submitit-n", type=int, default=50,
                        help="submitit burst size (~1 s a job: default 50)")
    parser.add_argument("--listing", default="100000,1000000",
                        help="stored-job counts for the listing figure")
    parser.add_argument("--skip", default="", help="comma list of: slurm,huey,submitit,listing")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    tmp = Path(tempfile.mkdtemp(prefix="jm-peers-"))
    results: dict[str, Any] = {"command": {}, "function": {}, "listing": {}}
    steps: list[tuple[str, str, Callable[[], Any]]] = [
        ("command", "floor: subprocess.run", lambda: floor_command(args.n)),
        ("command", "jobmagics", lambda: jobmagics_commands(args.n, tmp)),
        ("function", "floor: in-process call", lambda: floor_function(args.n)),
        ("function", "ProcessPoolExecutor", lambda: process_pool(args.n)),
        ("function", "jobmagics", lambda: jobmagics_functions(args.n, tmp)),
    ]
    if "huey" not in skip:
        steps.append(("function", "huey (SqliteHuey)", lambda: huey_sqlite(args.n, tmp)))
    if "submitit" not in skip:
        steps.append(("function", "submitit local", lambda: submitit_local(args.submitit_n, tmp)))
    if "slurm" not in skip:
        steps.append(("command", "SLURM sbatch", lambda: slurm(args.slurm_n, tmp)))
    try:
        for workload, name, step in steps:
            print(f"... {workload}: {name}", flush=True)
            try:
                results[workload][name] = step()
            except Exception as exc:  # noqa: BLE001 - a peer that cannot run is reported, not fatal
                results[workload][name + " (failed)"] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"    failed: {exc}", flush=True)
        if "listing" not in skip:
            for size in map(int, args.listing.split(",")):
                print(f"... listing at {size:,} stored jobs", flush=True)
                results["listing"][str(size)] = listing(size, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    results = {w: {k: v for k, v in rows.items() if "error" not in v}
               | {k: v for k, v in rows.items() if "error" in v}
               for w, rows in results.items()}
    report = {"machine": f"{os.cpu_count()} cores", "at": time.strftime("%Y-%m-%d %H:%M"),
              "results": results, "ratios": ratios(results)}
    OUT_JSON.write_text(json.dumps(report, indent=2, default=str) + "\n")
    plot(results, OUT_PNG)
    print(markdown(results))
    print(textwrap.dedent(f"""
        wrote {OUT_JSON.relative_to(HERE.parent)} and {OUT_PNG.relative_to(HERE.parent)}"""))


if __name__ == "__main__":
    main()
