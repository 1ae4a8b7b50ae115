"""Nothing that runs on a compute node opens the queue's database: a SLURM job's progress and
result (and a python job's input) travel as files in ``<queue>/slurm/reports`` that the
worker ingests. The jobs here run with an audit hook that refuses any SQLite connection."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from jobmagics.model import State

LONG = 120.0
NO_DATABASE = '''\
import os, sys

def _refuse(event, args):
    if event == "sqlite3.connect":
        with open(os.environ["JM_TEST_CONNECTS"], "a") as log:
            log.write(f"{os.environ.get('JOBMAGICS_JOB_ID')} {args}\\n")
        raise PermissionError(f"a job on a compute node opened a database: {args}")

sys.addaudithook(_refuse)
'''


@pytest.fixture
def no_database(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """The environment of a job that cannot open any SQLite database (a ``sitecustomize``
    that refuses ``sqlite3.connect`` and notes who tried), and where the notes go."""
    folder = tmp_path / "no-database"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(NO_DATABASE)
    connects = tmp_path / "connects.txt"
    env = {"PYTHONPATH": str(folder), "JM_TEST_CONNECTS": str(connects)}
    probe = subprocess.run([sys.executable, "-c", "import sqlite3; sqlite3.connect(':memory:')"],
                           env=env, capture_output=True, text=True, timeout=60, check=False)
    assert probe.returncode != 0 and "opened a database" in probe.stderr   # the hook works
    connects.unlink()
    return env, connects


@pytest.fixture
def slurm_queue(slurm: str, queue: jobmagics.Queue, start_worker: Callable[..., Any]) -> jobmagics.Queue:
    start_worker("--slurm", "--slots", "1", "--no-kernel")
    return queue


def test_a_function_job_s_progress_and_result_arrive_as_files(
        slurm_queue: jobmagics.Queue, no_database: tuple[dict[str, str], Path],
        wait_for: Callable[..., Any]) -> None:
    env, connects = no_database

    def work(x: int) -> int:
        import time

        import jobmagics
        jobmagics.progress(0.5, stage="half way")
        time.sleep(4)
        return x + 1

    job = slurm_queue.submit(function=work, args=(41,), backend="slurm", env=env)
    wait_for(lambda: job.refresh().stage == "half way", timeout=LONG, interval=0.1)
    assert job.progress == 0.5 and job.state is State.RUNNING
    assert job.result(timeout=LONG) == 42
    assert not connects.exists(), connects.read_text()
    assert not list((slurm_queue.path / "slurm" / "reports").iterdir())


def test_a_python_job_s_pushed_and_pulled_variables_travel_as_files(
        slurm_queue: jobmagics.Queue, no_database: tuple[dict[str, str], Path]) -> None:
    env, connects = no_database
    job = slurm_queue.submit(code="import jobmagics\ny = x * 2\njobmagics.progress(0.9, 'nearly')",
                             push={"x": 21}, options={"pull": ["y"]}, backend="slurm", env=env)
    assert job.result(timeout=LONG) == {"y": 42}
    assert job.stage == "nearly"
    assert not connects.exists(), connects.read_text()


def test_a_function_s_exception_arrives_as_a_file(
        slurm_queue: jobmagics.Queue, no_database: tuple[dict[str, str], Path]) -> None:
    env, connects = no_database

    def boom() -> None:
        raise ValueError("bad fit")

    job = slurm_queue.submit(function=boom, backend="slurm", env=env)
    with pytest.raises(jobmagics.JobmagicsError) as raised:
        job.result(timeout=LONG)
    assert isinstance(raised.value.__cause__, ValueError)
    assert job.state is State.FAILED and "ValueError: bad fit" in (job.error or "")
    assert not connects.exists(), connects.read_text()
