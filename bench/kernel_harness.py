"""A Jupyter kernel driven as a notebook front end drives it, for the benches that measure
widgets (``bench_notebook``, ``bench_live``): run cells, read what the kernel sends on iopub
(each bench keeps what it measures in ``track``), and the kernel's CPU time."""
from __future__ import annotations

import os
import queue as queue_module
import time
from pathlib import Path
from typing import Any

import psutil
from jupyter_client.manager import start_new_kernel

ROOT = Path(__file__).resolve().parents[1]


class FrontEndKernel:
    """A real ipykernel on the queue ``queue_dir``, ``setup`` run first."""

    def __init__(self, queue_dir: Path, setup: str) -> None:
        env = dict(os.environ, JOBMAGICS_QUEUE=str(queue_dir), PYTHONPATH=str(ROOT))
        self.manager, self.client = start_new_kernel(kernel_name="python3", env=env,
                                                     startup_timeout=60)
        self.run(setup)

    def run(self, code: str) -> float:
        """Execute a cell; returns seconds from request to reply (what the user waits)."""
        started = time.perf_counter()
        msg_id = self.client.execute(code)
        while True:
            reply = self.client.get_shell_msg(timeout=120)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        elapsed = time.perf_counter() - started
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"{code!r}: {reply['content'].get('evalue')}")
        self.pump(0.05)
        return elapsed

    def pump(self, seconds: float) -> None:
        """Read iopub for ``seconds`` (or until it is quiet), each message to ``track``."""
        deadline = time.perf_counter() + seconds
        while (left := deadline - time.perf_counter()) > 0:
            try:
                self.track(self.client.get_iopub_msg(timeout=left))
            except queue_module.Empty:
                return

    def track(self, msg: dict[str, Any]) -> Any:
        """What a bench keeps of one iopub message, as it arrives (called at arrival)."""
        return None

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.manager.provisioner.pid).cpu_times()
        return times.user + times.system

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
