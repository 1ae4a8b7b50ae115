"""SLURM backend figures: tiny jobs through jobmagics ``--backend slurm`` vs plain ``sbatch``,
and an array of N elements (ONE ``sbatch --array``) vs N separate jobs through jobmagics.

For each job route: a burst of N tiny jobs (throughput, submit-to-start latency under load)
and a few jobs one at a time (submit-to-start and submit-to-done on an idle cluster). A job's
start is the time it prints itself (``date +%s.%N``), so every route is measured alike. For
arrays: the time from the submit call until every element waits in SLURM (``backend_id``
recorded), and until all completed (drain), next to N separate jobs on the same worker.
Each route runs ``--rounds`` times, alternating the order; medians are kept. Prints the figures
with the SLURM settings in use and merges them into bench/results.json under "slurm". Needs
a running SLURM (``.ci/slurm-up``; started here when run as root)."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from results import save, saved, stamp

import jobmagics
from kernel_worker import spawn
from kernel_worker.executors.batch_tracker import REFRESH_S

STAMP = ["date", "+%s.%N"]            # the job: print when it started
SETTINGS = ("SchedulerType", "SchedulerParameters", "MinJobAge", "SelectType", "KillWait")


def run(argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def ensure_slurm() -> None:
    conf = Path("/tmp/jobmagics-slurm/slurm.conf")
    if "SLURM_CONF" not in os.environ and conf.exists():
        os.environ["SLURM_CONF"] = str(conf)
    if run(["sinfo", "-h", "-o", "%t"]).stdout.strip() in ("idle", "mix", "alloc", "comp"):
        return
    started = run([str(ROOT / ".ci" / "slurm-up")], timeout=120)
    if started.returncode != 0:
        sys.exit(f"no SLURM answers and .ci/slurm-up failed:\n{started.stderr}")
    exported = started.stdout.strip().splitlines()[-1]
    os.environ["SLURM_CONF"] = exported.removeprefix("export SLURM_CONF=")


def slurm_settings() -> dict[str, str]:
    lines = run(["scontrol", "show", "config"]).stdout.splitlines()
    config = {k.strip(): v.strip() for k, _, v in (ln.partition("=") for ln in lines) if v}
    settings = {name: config.get(name, "?") for name in SETTINGS}
    nodes = run(["sinfo", "-h", "-o", "%D nodes, %c CPUs each"]).stdout.strip()
    return settings | {"nodes": nodes, "version": run(["sinfo", "--version"]).stdout.strip()}


def wait_until(done: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(interval)


def started_at(text: str) -> float | None:
    for line in text.splitlines():
        try:
            return float(line.strip())
        except ValueError:
            continue
    return None


# ---- plain sbatch ---------------------------------------------------------------------------
def sbatch_jobs(folder: Path, count: int) -> list[tuple[str, float, Path]]:
    jobs = []
    for i in range(count):
        out = folder / f"direct-{time.monotonic_ns()}-{i}.out"
        submitted = time.time()
        answer = run(["sbatch", "--parsable", f"--output={out}", "--wrap", " ".join(STAMP)])
        if answer.returncode != 0:
            sys.exit(f"sbatch failed: {answer.stderr}")
        jobs.append((answer.stdout.strip().split(";")[0], submitted, out))
    return jobs


def sbatch_finished(ids: list[str]) -> bool:
    """None of the jobs is pending, running or completing any more. (With ``-t all`` the
    early ones would vanish after MinJobAge; their output files tell how they went.)"""
    answer = run(["squeue", "-h", "-j", ",".join(ids), "-o", "%T"])
    return not answer.stdout.strip() and (answer.returncode == 0
                                          or "Invalid job id" in answer.stderr)


def bench_direct(folder: Path, count: int, singles: int) -> dict[str, Any]:
    first = time.time()
    burst = sbatch_jobs(folder, count)
    # ask squeue as often as jobmagics' tracker does: polling slurmctld harder slows it down
    wait_until(lambda: sbatch_finished([i for i, _, _ in burst]), 600, "the sbatch burst",
               REFRESH_S)
    elapsed = time.time() - first
    single_starts, single_done = [], []
    for _ in range(singles):
        (slurm_id, submitted, out), = sbatch_jobs(folder, 1)
        wait_until(lambda ids=[slurm_id]: sbatch_finished(ids), 120, "a single sbatch job")
        single_done.append(time.time() - submitted)
        single_starts.append(_latency(out.read_text(), submitted))
    return figures(count, elapsed, [_latency(out.read_text(), s) for _, s, out in burst],
                   single_starts, single_done)


def _latency(text: str, submitted: float) -> float:
    start = started_at(text)
    if start is None:
        sys.exit(f"a job printed no start time: {text!r}")
    return start - submitted


# ---- through jobmagics ------------------------------------------------------------------------
def bench_jobmagics(folder: Path, count: int, singles: int) -> dict[str, Any]:
    queue = jobmagics.Queue(folder / "queue")
    worker = spawn(queue, "--slurm", "--no-kernel", "--slots", "1", log=folder / "worker.log",
                   timeout=60)
    try:
        first = time.time()
        burst = [(queue.submit(STAMP, backend="slurm"), time.time()) for _ in range(count)]
        for job, _ in burst:
            job.wait(600)
        elapsed = time.time() - first
        single_starts, single_done = [], []
        for _ in range(singles):
            submitted = time.time()
            job = queue.submit(STAMP, backend="slurm").wait(120)
            single_done.append(time.time() - submitted)
            single_starts.append(_latency(job.log(), submitted))
        failed = [j.id for j, _ in burst if j.state.value != "completed"]
        if failed:
            sys.exit(f"{len(failed)} jobs did not complete, e.g. {failed[0]}:"
                     f" see {folder}/worker.log")
        return figures(count, elapsed, [_latency(j.log(), s) for j, s in burst], single_starts,
                       single_done)
    finally:
        worker.stop()


# ---- an array vs separate jobs, through jobmagics ----------------------------------------------
def bench_array_route(folder: Path, count: int, as_array: bool) -> dict[str, Any]:
    """Submit ``count`` tiny jobs as one array (or one by one); seconds until all are in
    SLURM, until all completed, and how many sbatch calls that took."""
    queue = jobmagics.Queue(folder / "queue")
    worker = spawn(queue, "--slurm", "--no-kernel", "--slots", "1", log=folder / "worker.log",
                   timeout=60)
    try:
        first = time.time()
        if as_array:
            array = queue.submit_array(command=["true"], items=range(count), backend="slurm")
            submitted = time.time() - first
            jobs = array.elements
        else:
            jobs = [queue.submit(["true"], backend="slurm") for _ in range(count)]
            submitted = time.time() - first
        wait_until(lambda: all(j.refresh().record.backend_id for j in jobs), 600,
                   "every job in SLURM", REFRESH_S)
        in_slurm = time.time() - first
        for job in jobs:
            job.wait(600)
        drained = time.time() - first
        failed = [j.id for j in jobs if j.state.value != "completed"]
        if failed:
            sys.exit(f"{len(failed)} jobs did not complete, e.g. {failed[0]}:"
                     f" see {folder}/worker.log")
        submissions = len({(j.record.backend_id or "").partition("_")[0] for j in jobs})
        return {"jobs": count, "submit_s": round(submitted, 3),
                "all_in_slurm_s": round(in_slurm, 3), "drain_s": round(drained, 3),
                "jobs_per_s": round(count / drained, 2), "sbatch_calls": submissions}
    finally:
        worker.stop()


def bench_arrays(count: int, rounds: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"array": [], "separate": []}
    for number in range(rounds):
        order = ["array", "separate"] if number % 2 == 0 else ["separate", "array"]
        for route in order:
            with tempfile.TemporaryDirectory(prefix="jm-bench-slurm-") as tmp:
                runs[route].append(bench_array_route(Path(tmp), count, route == "array"))
                print(f"{route} of {count}", json.dumps(runs[route][-1]), flush=True)
    array, separate = median_figures(runs["array"]), median_figures(runs["separate"])
    return {"array": array, "separate_jobs": separate,
            "array_to_separate_drain": round(separate["drain_s"] / array["drain_s"], 2)}


def figures(count: int, elapsed: float, burst: list[float], starts: list[float],
            done: list[float]) -> dict[str, Any]:
    burst_sorted = sorted(burst)
    return {
        "jobs": count,
        "jobs_per_s": round(count / elapsed, 2),
        "burst_submit_to_start_p50_s": round(statistics.median(burst), 3),
        "burst_submit_to_start_p90_s": round(burst_sorted[int(0.9 * (len(burst) - 1))], 3),
        "single_submit_to_start_p50_s": round(statistics.median(starts), 3),
        "single_submit_to_done_p50_s": round(statistics.median(done), 3),
    }


def median_figures(runs: list[dict[str, Any]]) -> dict[str, Any]:
    middle = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    rounded = {key: round(value, 3) if key != "jobs" else int(value)
               for key, value in middle.items()}
    return rounded | {"rounds": len(runs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--jobs", type=int, default=100, help="tiny jobs per burst (50..100)")
    parser.add_argument("--singles", type=int, default=10, help="jobs submitted one at a time")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of each route (medians are kept)")
    parser.add_argument("--array", type=int, default=100,
                        help="elements of the array (and separate jobs) to compare; 0: skip")
    parser.add_argument("--only-arrays", action="store_true",
                        help="only the array vs separate jobs figures")
    args = parser.parse_args()
    ensure_slurm()
    settings = slurm_settings()
    load_before = os.getloadavg()[0]     # other work on the machine shows in these figures
    results: dict[str, Any] = dict(saved().get("slurm", {}))
    if args.array:
        results["arrays"] = bench_arrays(args.array, args.rounds)
    if not args.only_arrays:
        results.update(bench_jobs(args.jobs, args.singles, args.rounds))
    results.update({"jobmagics_tracker_refresh_s": REFRESH_S, "slurm_settings": settings,
                    "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                    **stamp()})
    print(json.dumps(results, indent=2))
    print(f"\nsaved to {save('slurm', results)} under 'slurm'")


def bench_jobs(count: int, singles: int, rounds_wanted: int) -> dict[str, Any]:
    rounds: dict[str, list[dict[str, Any]]] = {"direct": [], "jobmagics": []}
    routes = {"direct": bench_direct, "jobmagics": bench_jobmagics}
    for number in range(rounds_wanted):
        # alternate which route goes first: slurmctld slows a little as finished jobs pile up
        order = ["direct", "jobmagics"] if number % 2 == 0 else ["jobmagics", "direct"]
        for route in order:
            with tempfile.TemporaryDirectory(prefix="jm-bench-slurm-") as tmp:
                rounds[route].append(routes[route](Path(tmp), count, singles))
                print(route, json.dumps(rounds[route][-1]), flush=True)
    direct, through = median_figures(rounds["direct"]), median_figures(rounds["jobmagics"])
    return {"sbatch_direct": direct, "jobmagics": through,
            "jobmagics_to_direct_throughput": round(through["jobs_per_s"] / direct["jobs_per_s"],
                                                    2)}


if __name__ == "__main__":
    main()
