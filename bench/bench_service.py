"""`make bench` (root only): a system queue's service next to a group queue, same run.

Clients are a real member account of the lab group (tests/accounts.py makes it and a runtime
it can run); the service is a real root process. Printed: submits per second from one client
and from four at once (the service commits the submissions that arrive together in one
transaction), and the sidebar's page (50 of 1,000 active jobs) in milliseconds."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import accounts
from results import save

from jobmagics import Queue, paths

SUBMITS = 1500
PAGE_ROUNDS = 200

CLIENT = r"""
import sys, time, jobmagics
q = jobmagics.Queue(sys.argv[1])
n, start = int(sys.argv[2]), float(sys.argv[3])
q.store.setting("paused")                 # connected before the clock starts
while time.time() < start:
    time.sleep(0.001)
began = time.perf_counter()
for _ in range(n):
    q.submit(["true"])
print(time.perf_counter() - began)
"""

BULK = r"""
import sys, time, jobmagics
q = jobmagics.Queue(sys.argv[1])
began = time.perf_counter()
q.submit_many([{"command": ["true"]}] * 5000)
print(5000 / (time.perf_counter() - began))
"""

PAGE = r"""
import statistics, sys, time, jobmagics
q = jobmagics.Queue(sys.argv[1])
times = []
for _ in range(int(sys.argv[2])):
    began = time.perf_counter()
    q.queue(limit=50)
    times.append((time.perf_counter() - began) * 1000)
print(statistics.median(times))
"""


def as_member(python: str, code: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(["runuser", "-u", accounts.OTHER_USER, "--", python, "-c", code,
                             *map(str, args)], stdout=subprocess.PIPE, text=True)


def submits_per_s(python: str, queue: Path, clients: int) -> float:
    start = time.time() + 1.5
    each = SUBMITS // clients
    runs = [as_member(python, CLIENT, queue, each, start) for _ in range(clients)]
    times = [float(run.communicate()[0]) for run in runs]
    return each * clients / max(times)


def page_ms(python: str, queue: Path) -> float:
    run = as_member(python, PAGE, queue, PAGE_ROUNDS)
    return float(run.communicate()[0])


def start_service(queue: Path) -> subprocess.Popen[bytes]:
    code = ("import sys, time, jobmagics.paths as p, jobmagics.service as s;"
            " s.serve(p.QueueLayout(p.Path(sys.argv[1]))); print('ready', flush=True);"
            " time.sleep(1e6)")
    service = subprocess.Popen([sys.executable, "-c", code, str(queue)], stdout=subprocess.PIPE)
    assert service.stdout is not None and service.stdout.readline().strip() == b"ready"
    return service


def prepare(base: Path, mode: str) -> Path:
    folder = base / mode
    if mode == "system":
        paths.init_system(folder, accounts.LAB_GROUP)
    else:
        paths.init_shared(folder, accounts.LAB_GROUP)
    queue = Queue(folder)                     # root creates the database
    queue.submit_many([{"command": ["true"]}] * 1000)   # the sidebar's 1,000 active jobs
    return folder


def main() -> dict[str, Any]:
    if os.geteuid() != 0:
        print("bench_service: needs root (real accounts); skipped")
        return {}
    group = accounts.ensure_lab_group()
    assert group is not None
    accounts.ensure_other_user(group)
    python = str(accounts.account_python())
    base = Path(tempfile.mkdtemp(prefix="jm-bench-service-", dir="/tmp"))
    os.chmod(base, 0o755)
    figures: dict[str, Any] = {}
    for mode in ("group", "system"):
        queue = prepare(base, mode)
        service = start_service(queue) if mode == "system" else None
        try:
            figures[f"{mode}_submits_per_s_1_client"] = submits_per_s(python, queue, 1)
            figures[f"{mode}_submits_per_s_4_clients"] = submits_per_s(python, queue, 4)
            figures[f"{mode}_bulk_submits_per_s"] = float(
                as_member(python, BULK, queue).communicate()[0])
            figures[f"{mode}_page_ms"] = statistics.median(
                page_ms(python, queue) for _ in range(3))
        finally:
            if service is not None:
                service.terminate()
                service.wait()
    for name, value in figures.items():
        print(f"{name:36s} {value:10.1f}")
    submits = (figures["system_submits_per_s_4_clients"]
               / figures["group_submits_per_s_4_clients"])
    print(f"system/group submits, 4 clients: {submits:.2f}"
          f"   page: {figures['system_page_ms'] / figures['group_page_ms']:.2f}")
    return figures


if __name__ == "__main__":
    results = main()
    if results:
        save("service", results)
