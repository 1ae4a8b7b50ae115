"""Shared fixtures: a real queue in a temp dir and real worker processes."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import jobmagics
from kernel_worker import spawn

AS_ROOT = os.getuid() == 0


def set_read_only(folder: Path, read_only: bool) -> None:
    """Read-only for everyone: a remount when root (root ignores modes), else file modes."""
    if AS_ROOT:
        subprocess.run(["mount", "-o", f"remount,{'ro' if read_only else 'rw'}", str(folder)], check=True)
        return
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222 if read_only else mode | 0o200)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def queue_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh queue folder; also the default queue of this test (``$JOBMAGICS_QUEUE``)."""
    path = tmp_path / "queue"
    monkeypatch.setenv("JOBMAGICS_QUEUE", str(path))
    return path


@pytest.fixture
def queue(queue_dir: Path) -> jobmagics.Queue:
    return jobmagics.Queue(queue_dir)


class WorkerProcess:
    """A real ``python -m kernel_worker`` process on a queue (``kernel_worker.spawn``),
    registered before it is returned; a failed start raises ``NoWorker`` naming its log."""

    def __init__(self, queue_dir: Path, args: list[str], log: Path) -> None:
        self.handle = spawn(queue_dir, *args, log=log, cwd=ROOT)
        self.process = self.handle.process
        self.pid = self.handle.pid
        self.log_path = log
        self.queue = jobmagics.Queue(queue_dir)

    def output(self) -> str:
        return self.handle.output()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        return self.handle.stop(sig, timeout)

    def kill(self) -> None:
        self.handle.kill()


@pytest.fixture
def start_worker(queue_dir: Path, tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real workers: ``start_worker("--slots", "2", "--resource", "hardware")``."""
    started: list[WorkerProcess] = []

    def start(*args: str) -> WorkerProcess:
        worker = WorkerProcess(queue_dir, list(args), tmp_path / f"worker-{len(started)}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop(signal.SIGKILL if worker.process.poll() is None else signal.SIGTERM)


@pytest.fixture
def worker(start_worker: Callable[..., WorkerProcess]) -> WorkerProcess:
    """One running worker with 2 slots that serves ``hardware``, on ``queue_dir``."""
    return start_worker("--slots", "2", "--resource", "hardware")


def wait_for(predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.01) -> object:
    """Poll until ``predicate()`` is truthy; fail the test with a clear message otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s: {predicate}")
