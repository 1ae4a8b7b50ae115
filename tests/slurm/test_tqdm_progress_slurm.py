"""A tqdm bar in a job on SLURM reports its progress through the report files (the job never
opens the queue's database), for a command's Python and for a python job."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from jobmagics.model import State
from tests.test_tqdm_progress import HALF_WAY

LONG = 120.0


@pytest.mark.parametrize("kind", ["command", "python"])
def test_a_tqdm_bar_on_slurm_reports_progress_and_stage(
        kind: str, slurm: str, queue: jobmagics.Queue, start_worker: Callable[..., Any],
        wait_for: Callable[..., object], tmp_path: Path) -> None:
    start_worker("--slurm", "--slots", "1")
    code = HALF_WAY.format(go=str(tmp_path / "go"))
    if kind == "command":
        script = tmp_path / "fit.py"
        script.write_text(code)
        job = queue.submit([sys.executable, str(script)], backend="slurm")
    else:
        job = queue.submit(code=code, backend="slurm")

    def half_way() -> bool:
        record = job.refresh().record
        assert record.state in (State.PENDING, State.RUNNING), (record.state, job.log())
        return record.stage == "fitting 10/20" and record.progress == 0.5

    wait_for(half_way, timeout=LONG)
    (tmp_path / "go").touch()
    job.wait(LONG)
    assert job.state is State.COMPLETED, (job.error, job.log())
