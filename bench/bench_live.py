"""`make bench`, live display figures (issue 13), through a real IPython kernel (jupyter_client,
ipywidgets) and a real worker, as a notebook front end sees them:

- lag: a job's state change in the database (its ``finished_at``, stamped by the worker in the
  transaction that ends it) to the ``comm_msg`` on iopub that sets its widget's ``state`` trait,
  p50/p90/max over 30 jobs, each displayed as a cell's value (``job``);
- idle CPU: the kernel process's CPU (psutil ``cpu_times``) over 30 s with a queue panel and
  three live widgets of running jobs open, and with nothing open.

Printed with the ratio to the targets, and merged into bench/results.json under "live"."""
from __future__ import annotations

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

TARGET_LAG_MS = 30.0
TARGET_IDLE_CPU = 1.0
JOBS = 30
IDLE_S = 30.0


class Kernel(FrontEndKernel):
    """Every JobWidget's state updates, with their arrival times (epoch seconds)."""

    def __init__(self, queue_dir: Path) -> None:
        self.states: dict[str, list[tuple[str, float]]] = {}    # model id -> (state, arrived)
        super().__init__(queue_dir, "%load_ext jobmagics\nimport jobmagics\nq = jobmagics.Queue()")

    def wait_state(self, state: str, timeout: float = 60.0) -> tuple[str, float]:
        """The (model id, arrival) of the first widget whose state became ``state`` since the
        last call."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for model_id, seen in self.states.items():
                for value, arrived in seen:
                    if value == state:
                        del self.states[model_id]
                        return model_id, arrived
            self.pump(0.05)
        raise TimeoutError(f"no widget reached {state!r} within {timeout} s")

    def track(self, msg: dict[str, Any]) -> None:
        arrived = time.time()
        content = msg["content"]
        if msg["msg_type"] == "comm_open":
            state = content["data"].get("state", {})
            if state.get("_model_name") == "VBoxModel" and "state" in state:
                self.states[content["comm_id"]] = [(state["state"], arrived)]
        elif msg["msg_type"] == "comm_msg" and content["comm_id"] in self.states:
            update = content["data"].get("state", {})
            if "state" in update:
                self.states[content["comm_id"]].append((update["state"], arrived))


def bench_lag(kernel: Kernel, q: jobmagics.Queue, n: int = JOBS) -> dict[str, float]:
    """Each job displayed live, then its end as the worker commits it, seen on iopub."""
    kernel.run("job = q.submit(command=['true']); job")        # warm up the widget machinery
    kernel.pump(1.0)
    kernel.states.clear()
    lags = []
    for i in range(n):
        kernel.run(f"job = q.submit(command=['sleep', '0.3'], name='lag{i}'); job")
        _, arrived = kernel.wait_state("completed")
        job = q.jobs(name=f"lag{i}", limit=1)[0].refresh()
        assert job.record.finished_at is not None
        lags.append((arrived - job.record.finished_at) * 1000)
    return {"widget_lag_p50_ms": statistics.median(lags),
            "widget_lag_p90_ms": percentile(lags, 0.9), "widget_lag_max_ms": max(lags)}


def idle_cpu_percent(kernel: Kernel, seconds: float) -> float:
    before, started = kernel.cpu_seconds(), time.monotonic()
    kernel.pump(seconds)                             # reading, as a front end would
    return 100 * (kernel.cpu_seconds() - before) / (time.monotonic() - started)


def bench_idle(kernel: Kernel, seconds: float = IDLE_S) -> dict[str, float]:
    kernel.pump(1.0)
    nothing = idle_cpu_percent(kernel, min(10.0, seconds))
    kernel.run("q")                                  # the live queue panel
    for i in range(3):
        kernel.run(f"running{i} = q.submit(command=['sleep', '300']); running{i}")
    kernel.pump(3.0)
    busy = idle_cpu_percent(kernel, seconds)
    kernel.run("for j in (running0, running1, running2):\n    j.cancel()")
    return {"idle_cpu_percent_nothing_open": nothing, "idle_cpu_percent_panel_3_widgets": busy}


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="jobmagics-bench-live-") as folder:
        queue_dir = Path(folder) / "queue"
        q = jobmagics.Queue(queue_dir)
        worker = spawn(q, "--slots", "4", cwd=ROOT)
        kernel = Kernel(queue_dir)
        try:
            figures: dict[str, Any] = {}
            figures.update(bench_lag(kernel, q))
            figures.update(bench_idle(kernel))
        finally:
            kernel.close()
            worker.stop()
    figures = {k: round(v, 2) for k, v in figures.items()}
    targets = {"widget_lag_p50_ms": TARGET_LAG_MS,
               "idle_cpu_percent_panel_3_widgets": TARGET_IDLE_CPU}
    for key, value in figures.items():
        target = targets.get(key)
        ratio = f"   (target <= {target:g}: {value / target:.2f}x of it)" if target else ""
        print(f"{key:36s} {value:9.2f}{ratio}")
    save("live", figures | {"jobs": JOBS, "idle_seconds": IDLE_S} | stamp())
    return 0


if __name__ == "__main__":
    sys.exit(main())
