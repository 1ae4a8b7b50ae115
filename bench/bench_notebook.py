"""`make bench`, notebook figures: ``%%job submit`` cell latency, widget update lag after a
state change, and the idle CPU of a kernel with an open queue panel. Measured through a real
IPython kernel (jupyter_client), as a notebook front end sees them. Printed, and merged into
bench/results.json under "notebook"."""
from __future__ import annotations

import queue as queue_module
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kernel_harness import FrontEndKernel, percentile
from results import save, stamp

import jobmagics
from kernel_worker import spawn

TARGETS = {"cell_latency_p50_ms": "well under 1000", "widget_lag_p50_ms": "< 250",
           "idle_cpu_percent": "< 1"}


class Kernel(FrontEndKernel):
    """Keeps the widget models it is sent, with arrival times."""

    def __init__(self, queue_dir: Path) -> None:
        self.models: dict[str, dict[str, Any]] = {}
        super().__init__(queue_dir, "%load_ext jobmagics")

    def wait_for_text(self, text: str, timeout: float = 30.0) -> float:
        """Seconds until some widget model's value contains ``text``, measured at arrival."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            try:
                msg = self.client.get_iopub_msg(timeout=0.5)
            except queue_module.Empty:
                continue
            arrived = time.perf_counter()
            if text in str(self.track(msg)):
                return arrived
        raise TimeoutError(f"no widget showed {text!r} within {timeout} s")

    def track(self, msg: dict[str, Any]) -> Any:
        content = msg["content"]
        if msg["msg_type"] == "comm_open":
            self.models[content["comm_id"]] = dict(content["data"].get("state", {}))
            return self.models[content["comm_id"]].get("value")
        if msg["msg_type"] == "comm_msg" and content["data"].get("method") == "update":
            return content["data"].get("state", {}).get("value")
        return None


def bench_cell_latency(kernel: Kernel, n: int = 20) -> dict[str, float]:
    kernel.run("%%job submit --hold\npass")        # warm up imports and the widget machinery
    times = [kernel.run(f"%%job submit --hold --name cell{i}\nx = {i}") * 1000 for i in range(n)]
    return {"cell_latency_p50_ms": statistics.median(times),
            "cell_latency_p95_ms": percentile(times, 0.95)}


def bench_widget_lag(kernel: Kernel, q: jobmagics.Queue, n: int = 20) -> dict[str, float]:
    """A job's state changes in another process's write; how long until its widget shows it."""
    lags = []
    for i in range(n):
        kernel.run(f"%%job submit --hold --name lag{i}\npass")
        job = q.jobs(name=f"lag{i}", limit=1)[0]
        kernel.pump(0.3)                             # the widget is up and idle
        changed = time.perf_counter()
        q.cancel(job.id)
        shown = kernel.wait_for_text("jobmagics-state-cancelled")
        lags.append((shown - changed) * 1000)
        kernel.run("_job.live_view.close()")
    return {"widget_lag_p50_ms": statistics.median(lags), "widget_lag_max_ms": max(lags)}


def idle_cpu_percent(kernel: Kernel, seconds: float) -> float:
    before, started = kernel.cpu_seconds(), time.perf_counter()
    kernel.pump(seconds)                             # reading (nothing) as a front end would
    return 100 * (kernel.cpu_seconds() - before) / (time.perf_counter() - started)


def bench_idle_cpu(kernel: Kernel, seconds: float = 10.0) -> dict[str, float]:
    """The kernel's CPU use while idle: with no widget, then with an open queue panel."""
    kernel.run("from jobmagics.widgets import shared_poller\n"
               "for _w in shared_poller().subscribers():\n    _w.close()")
    kernel.pump(1.0)
    baseline = idle_cpu_percent(kernel, seconds)
    kernel.run("panel = %job queue")
    kernel.pump(1.0)
    with_panel = idle_cpu_percent(kernel, seconds)
    kernel.run("panel.close()")
    return {"idle_cpu_percent_no_widget": baseline, "idle_cpu_percent": with_panel,
            "idle_cpu_percent_of_panel": with_panel - baseline}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="jobmagics-bench-nb-") as folder:
        queue_dir = Path(folder) / "queue"
        q = jobmagics.Queue(queue_dir)
        worker = spawn(q, "--slots", "2", cwd=ROOT)
        kernel = Kernel(queue_dir)
        try:
            figures: dict[str, Any] = {}
            figures.update(bench_cell_latency(kernel))
            figures.update(bench_widget_lag(kernel, q))
            figures.update(bench_idle_cpu(kernel))
        finally:
            kernel.close()
            worker.stop()
    figures = {k: round(v, 3) for k, v in figures.items()}
    for key, value in figures.items():
        target = TARGETS.get(key)
        print(f"{key:28s} {value:10.3f}" + (f"   (target {target})" if target else ""))
    save("notebook", figures | stamp())
    return 0


if __name__ == "__main__":
    sys.exit(main())
