"""For ``pytest --nbval notebooks``: the notebooks run against a fresh queue served by a real
worker that this test session starts (and stops). The kernels nbval starts inherit
``$JOBMAGICS_QUEUE``, so ``jobmagics.Queue()`` and the magics in the notebooks use it.

Session hooks rather than a fixture: nbval starts a notebook's kernel while setting up the
notebook, before any fixture of its cells would run."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_session: dict[str, object] = {}


def pytest_sessionstart(session: pytest.Session) -> None:
    from kernel_worker import spawn
    folder = Path(tempfile.mkdtemp(prefix="jobmagics-notebooks-"))
    queue_dir = folder / "queue"
    os.environ["JOBMAGICS_QUEUE"] = str(queue_dir)
    _session["folder"] = folder
    _session["worker"] = spawn(queue_dir, "--slots", "2", "--resource", "hardware",
                               log=folder / "worker.log", cwd=ROOT, new_session=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from kernel_worker import WorkerHandle
    worker = _session.get("worker")
    if isinstance(worker, WorkerHandle):
        worker.stop()
    folder = _session.get("folder")
    if exitstatus == 0 and isinstance(folder, Path):
        shutil.rmtree(folder, ignore_errors=True)
