"""A system queue whose service runs no worker: jobmagics never starts one of its own there
(a worker of a member's would run jobs as that member), and says whom to ask."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import jobmagics
from jobmagics import paths
from jobmagics.errors import NoWorker


def test_run_on_a_system_queue_without_a_worker_names_the_service_to_start(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.fail("a system queue is made by root: run the suite as root (CI does)",
                    pytrace=False)
    folder = tmp_path / "queue"
    paths.init_system(folder, "root")
    queue = jobmagics.Queue(folder)
    with pytest.raises(NoWorker, match=r"its service runs them .*systemctl start jobmagics-"):
        jobmagics.run(["true"], queue=str(folder))
    assert queue.count() == 0                   # refused before anything was submitted
