"""`make bench`: recovery from a worker's SIGKILL, saved under "recovery" in bench/results.json.

For command, function and kernel jobs (a fresh kernel and the persistent kernel of an exclusive
resource), each starting children that keep running (one of them a ``setsid`` daemon): the time
from the SIGKILL of the job's worker to the moment the last process of its attempt is gone and
the job is back in the queue, as another worker on the host (already running) sees it.
Target: under 2 s. Usage: ``bench_recovery.py [--rounds N]`` (default 5); with
``JOBMAGICS_PROCTRACK=marks`` (the fallback without cgroups) the figures go under
"recovery_marks"."""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from results import save, stamp

import jobmagics
from kernel_worker import proctrack, spawn
from kernel_worker.proctrack.base import running

TARGET_S = 2.0
ROUND_TIMEOUT_S = 60.0

# every job leaves the pids of its children in PIDS, then keeps running
CHILDREN_SH = ('sleep 600 & echo $! >> "$PIDS"; '
               'setsid sh -c \'echo $$ >> "$PIDS"; exec sleep 600\' </dev/null >/dev/null 2>&1 &')
CHILDREN_PY = ("import os, subprocess, time\n"
               f"subprocess.run(['sh', '-c', {CHILDREN_SH!r}],"
               " env=dict(os.environ, PIDS={pids!r}))\n"
               "time.sleep(600)\n")


def sleep_with_children(pids: str) -> None:
    """A function job (pickled by value: defined at module level of a script run as __main__)."""
    import os
    import subprocess
    import time
    subprocess.run(["sh", "-c", CHILDREN_SH], env=dict(os.environ, PIDS=pids), check=True)
    time.sleep(600)


KINDS: dict[str, dict[str, Any]] = {
    "command": {"worker": ("--resource", "lab=2")},
    "function": {"worker": ("--resource", "lab=2")},
    "kernel": {"worker": ("--resource", "lab=2")},                 # capacity 2: fresh kernels
    "kernel_persistent": {"worker": ("--resource", "lab")},        # capacity 1: the persistent one
}


def job_spec(kind: str, pids: Path) -> dict[str, Any]:
    spec: dict[str, Any] = {"resources": ["lab"], "retries": 5, "retry_delay": 30}
    if kind == "command":
        return {**spec, "command": ["sh", "-c", CHILDREN_SH + " sleep 600"],
                "env": {"PIDS": str(pids)}}
    if kind == "function":
        return {**spec, "function": sleep_with_children, "args": (str(pids),)}
    return {**spec, "code": CHILDREN_PY.format(pids=str(pids))}


def attempt_processes(queue: jobmagics.Queue, job: jobmagics.Job, pids: Path) -> set[int]:
    """The job's own process, its children (from PIDS) and everything in its container."""
    found = {int(p) for p in pids.read_text().split()} if pids.exists() else set()
    recorded = queue.store.pid_of(job.id)[0]
    if recorded:
        found.add(recorded)
    tracker = proctrack.tracker_for(queue.path)
    if tracker.hierarchy is not None:
        procs = Path(tracker.hierarchy.top, tracker.key,
                     proctrack.attempt_name(job.id, job.attempt), "cgroup.procs")
        if procs.exists():
            found |= {int(p) for p in procs.read_text().split()}
    return found


def one_round(queue: jobmagics.Queue, kind: str, folder: Path) -> dict[str, float]:
    pids = folder / f"pids-{kind}-{time.monotonic_ns()}"
    victim = spawn(queue, "--slots", "2", *KINDS[kind]["worker"], timeout=ROUND_TIMEOUT_S)
    job = queue.submit(**job_spec(kind, pids))
    deadline = time.monotonic() + ROUND_TIMEOUT_S
    while len(pids.read_text().split() if pids.exists() else []) < 2 \
            or not queue.store.pid_of(job.id)[0]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{kind} job did not start its children: "
                               f"{job.refresh().state} {job.error}")
        time.sleep(0.01)
    time.sleep(0.2)                       # let the children settle
    processes = attempt_processes(queue, job.refresh(), pids)
    killed_at = time.time()
    victim.kill()
    last_gone = requeued = None
    while time.monotonic() < deadline and (last_gone is None or requeued is None):
        if last_gone is None and not any(running(p) for p in processes):
            last_gone = time.time()
        if requeued is None:
            lost = [e for e in job.events() if (e["detail"] or "").startswith("worker lost")]
            requeued = lost[0]["at"] if lost else None
        time.sleep(0.002)
    job.cancel()
    if last_gone is None or requeued is None:
        raise RuntimeError(f"{kind}: not recovered within {ROUND_TIMEOUT_S:.0f} s")
    return {"processes": len(processes), "gone_s": last_gone - killed_at,
            "requeued_s": requeued - killed_at, "recovered_s": max(last_gone, requeued) - killed_at}


def measure(kind: str, rounds: int, base: Path) -> dict[str, float]:
    queue = jobmagics.Queue(base / kind)
    standby = spawn(queue, "--slots", "1", "--no-kernel",   # serves no "lab": only recovers
                    timeout=ROUND_TIMEOUT_S)
    try:
        results = [one_round(queue, kind, base) for _ in range(rounds)]
    finally:
        standby.stop()
    recovered = [r["recovered_s"] for r in results]
    return {"p50_s": statistics.median(recovered), "max_s": max(recovered),
            "processes_per_attempt": statistics.median(r["processes"] for r in results),
            "requeued_p50_s": statistics.median(r["requeued_s"] for r in results), "rounds": rounds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tracking = proctrack.tracker_for(tempfile.gettempdir()).describe().split(" ")[0]
    print(f"recovery after a worker's SIGKILL (process tracking: {tracking};"
          f" target < {TARGET_S:g} s)")
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="jobmagics-bench-recovery-") as tmp:
        for kind in KINDS:
            measured = measure(kind, args.rounds, Path(tmp))
            figures[kind] = {k: round(v, 3) for k, v in measured.items()}
            f = figures[kind]
            print(f"  {kind:18} p50 {f['p50_s']:.2f} s  max {f['max_s']:.2f} s"
                  f"  ({f['processes_per_attempt']:.0f} processes per attempt,"
                  f" {f['rounds']} rounds)"
                  f"{'' if f['max_s'] < TARGET_S else '  OVER TARGET'}")
    forced = os.environ.get(proctrack.BACKEND_VAR, "auto") != "auto"   # e.g. the marks fallback
    path = save("recovery_" + tracking if forced else "recovery",
                figures | {"process_tracking": tracking} | stamp())
    print(f"saved to {path}")


if __name__ == "__main__":
    main()
