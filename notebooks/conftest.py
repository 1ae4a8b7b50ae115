"""For ``pytest --nbval notebooks``: the notebooks run against a fresh queue served by a real
worker that this test session starts (and stops). The kernels nbval starts inherit
``$JOBMAGICS_QUEUE``, so ``jobmagics.Queue()`` and the magics in the notebooks use it.

Session hooks rather than a fixture: nbval starts a notebook's kernel while setting up the
notebook, before any fixture of its cells would run."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_session: dict[str, object] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    folder = Path(tempfile.mkdtemp(prefix="jobmagics-notebooks-"))
    queue_dir = folder / "queue"
    os.environ["JOBMAGICS_QUEUE"] = str(queue_dir)
    log = open(folder / "worker.log", "ab")  # noqa: SIM115 - open for the session, closed at its end
    worker = subprocess.Popen(
        [sys.executable, "-m", "kernel_worker", "--queue", str(queue_dir), "--slots", "2",
         "--resource", "hardware"], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"), start_new_session=True)
    _session.update(folder=folder, worker=worker, log=log)
    _wait_registered(queue_dir, worker)


def _wait_registered(queue_dir: Path, worker: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    import jobmagics
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if queue_dir.exists() and any(w["pid"] == worker.pid for w in jobmagics.Queue(queue_dir).workers()):
            return
        if worker.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"the notebooks' worker did not start; see {_session['folder']}/worker.log")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    worker = _session.get("worker")
    if isinstance(worker, subprocess.Popen) and worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    log = _session.get("log")
    if log is not None:
        log.close()  # type: ignore[attr-defined]
    if exitstatus == 0 and isinstance(_session.get("folder"), Path):
        shutil.rmtree(_session["folder"], ignore_errors=True)  # type: ignore[arg-type]
