"""The Jupyter server never freezes on the queue: figures from a real `jupyter server`.

1. Another process holds the queue's write lock (sqlite3 ``BEGIN IMMEDIATE``) for ``--hold``
   seconds. Meanwhile a jobmagics POST (a submit) is sent, and Jupyter's own ``/api/status``
   is asked again and again: its latency (target < 50 ms), and how long the POST took to
   answer and with what (target: 503 "the queue is busy" after a few seconds, not 60 s).
2. The first page of each listing route at a big queue (``--jobs`` stored, ``--pending`` of
   them pending; target < 50 ms), over HTTP, with the size of the answer.

Numbers are printed and merged into bench/results.json under "server".

    python bench/bench_server.py [--jobs 1000000] [--pending 200000] [--hold 8]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from results import save

import jobmagics

TOKEN = "jobmagics-bench-server"
BIN = Path(sys.executable).parent
LOCK_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def build_queue(path: Path, jobs: int, pending: int) -> jobmagics.Queue:
    """``jobs`` stored jobs, the newest ``pending`` of them pending, the rest completed."""
    q = jobmagics.Queue(path)
    chunk = 50_000
    for start in range(0, jobs, chunk):
        q.submit_many([{"command": ["true"], "name": f"j{start + i}"}
                       for i in range(min(chunk, jobs - start))])
    # Seeding only (as bench_peers does): the older jobs finished long ago.
    with q.store.db.write() as conn:
        conn.execute("UPDATE jobs SET state = 'completed', started_at = submitted_at,"
                     " finished_at = submitted_at, exit_code = 0, progress = 1.0"
                     " WHERE seq <= (SELECT max(seq) - ? FROM jobs)", (pending,))
    return q


class Server:
    """A real `jupyter server` with the jobmagics extension on ``queue``."""

    def __init__(self, queue: Path, home: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.log = open(home / "jupyter-server.log", "wb")  # noqa: SIM115 (closed in stop)
        env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(home / "runtime"),
                   PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        self.process = subprocess.Popen(
            [str(BIN / "jupyter-server"), "--no-browser", "--ip", "127.0.0.1", "--port",
             str(self.port), "--port-retries", "0", f"--IdentityProvider.token={TOKEN}",
             "--allow-root", f"--ServerApp.root_dir={home}", f"--JobmagicsApp.queue={queue}"],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=home)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.get("api/status")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("jupyter server did not start")

    def request(self, method: str, route: str, body: Any = None,
                timeout: float = 90) -> tuple[int, bytes, float]:
        """(status, body, seconds) of one request."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/{route}", data=data,
                                         method=method, headers={"Authorization": f"token {TOKEN}"})
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.read(), time.perf_counter() - start
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), time.perf_counter() - start

    def get(self, route: str) -> tuple[int, bytes, float]:
        return self.request("GET", route)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def first_requests(server: Server) -> dict[str, Any]:
    """A fresh server's first jobmagics read and write (opening the queue; a process's first
    write checks the database's integrity unless its verdict still applies)."""
    status, _, read_s = server.get("jobmagics/api/whoami")
    assert status == 200
    status, body, write_s = server.request("POST", "jobmagics/api/jobs", {"command": ["true"]})
    assert status == 201, body[:300]
    status, _, second_s = server.request("POST", "jobmagics/api/jobs", {"command": ["true"]})
    return {"first_read_ms": round(read_s * 1000, 1), "first_write_ms": round(write_s * 1000, 1),
            "second_write_ms": round(second_s * 1000, 1)}


def under_held_lock(server: Server, db: Path, hold: float) -> dict[str, Any]:
    """Jupyter's /api/status and a jobmagics POST while another process holds the write lock."""
    baseline = [server.get("api/status")[2] * 1000 for _ in range(20)]
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(db), str(hold)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    held_at = time.perf_counter()
    post: dict[str, Any] = {}

    def submit() -> None:
        status, body, seconds = server.request("POST", "jobmagics/api/jobs", {"command": ["true"]})
        post.update(status=status, seconds=seconds, reply=json.loads(body or b"{}"))

    thread = threading.Thread(target=submit)
    thread.start()
    status_ms: list[float] = []
    while holder.poll() is None:
        status_ms.append(server.get("api/status")[2] * 1000)
        time.sleep(0.05)
    released_after = time.perf_counter() - held_at
    thread.join()
    return {
        "lock_held_s": round(released_after, 2),
        "api_status_baseline_p50_ms": round(statistics.median(baseline), 2),
        "api_status_under_lock_p50_ms": round(statistics.median(status_ms), 2),
        "api_status_under_lock_max_ms": round(max(status_ms), 2),
        "api_status_under_lock_samples": len(status_ms),
        "post_under_lock_status": post["status"],
        "post_under_lock_s": round(post["seconds"], 2),
        "post_under_lock_error": post["reply"].get("error"),
    }


def first_pages(server: Server) -> dict[str, Any]:
    """Median time (20 requests) and size of the first page of each listing route."""
    routes = {
        "jobs?limit=50": "jobmagics/api/jobs?limit=50",
        "jobs?state=pending&limit=50": "jobmagics/api/jobs?state=pending&limit=50",
        "queue?limit=50": "jobmagics/api/queue?limit=50",
        "queue?limit=100 (sidebar)": "jobmagics/api/queue?limit=100",
        "history page (sidebar)":
            "jobmagics/api/jobs?state=completed,failed,cancelled,timeout&limit=50",
        "stats": "jobmagics/api/stats",
    }
    figures: dict[str, Any] = {}
    for label, route in routes.items():
        times, size, total = [], 0, None
        for _ in range(20):
            status, body, seconds = server.get(route)
            assert status == 200, (route, status, body[:300])
            times.append(seconds * 1000)
            size = len(body)
            total = json.loads(body).get("total")
        figures[label] = {"p50_ms": round(statistics.median(times), 2),
                          "max_ms": round(max(times), 2), "bytes": size, "total": total}
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=200_000)
    parser.add_argument("--hold", type=float, default=8.0, help="seconds the write lock is held")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="build the big queue in DIR and keep it; reuse it if it is there")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="jobmagics-bench-server-"))
    try:
        queue = args.keep or home / "queue"
        if (queue / "jobs.db").exists():
            q = jobmagics.Queue(queue)
            args.jobs, args.pending = q.count(), q.count(state="pending")
        else:
            t = time.perf_counter()
            q = build_queue(queue, args.jobs, args.pending)
            print(f"built {args.jobs:,} jobs ({args.pending:,} pending)"
                  f" in {time.perf_counter() - t:.0f} s")
        server = Server(q.path, home)
        try:
            figures = {"jobs": args.jobs, "pending": args.pending,
                       "fresh_server": first_requests(server),
                       "held_write_lock": under_held_lock(server, q.layout.db, args.hold),
                       "first_page": first_pages(server)}
        finally:
            server.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    report(figures)
    save("server", figures)
    return 0


def report(figures: dict[str, Any]) -> None:
    fresh = figures["fresh_server"]
    print(f"a fresh server's first jobmagics read {fresh['first_read_ms']} ms, first write "
          f"{fresh['first_write_ms']} ms, second write {fresh['second_write_ms']} ms")
    lock = figures["held_write_lock"]
    print(f"write lock held {lock['lock_held_s']} s by another process:")
    print(f"  Jupyter /api/status  p50 {lock['api_status_under_lock_p50_ms']} ms, max "
          f"{lock['api_status_under_lock_max_ms']} ms over {lock['api_status_under_lock_samples']}"
          f" requests (idle p50 {lock['api_status_baseline_p50_ms']} ms; target < 50 ms)")
    print(f"  jobmagics POST jobs  {lock['post_under_lock_status']}"
          f" after {lock['post_under_lock_s']} s"
          f" (target: 503 busy within a few seconds): {lock['post_under_lock_error']}")
    print(f"first pages at {figures['jobs']:,} stored jobs, {figures['pending']:,} pending"
          " (target < 50 ms):")
    for label, page in figures["first_page"].items():
        print(f"  {label:<30} p50 {page['p50_ms']:>7} ms  max {page['max_ms']:>7} ms"
              f"  {page['bytes']:>8,} bytes  total {page['total']}")


if __name__ == "__main__":
    sys.exit(main())
