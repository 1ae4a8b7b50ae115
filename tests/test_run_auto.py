"""``jobmagics.run(..., backend="auto")`` without a reachable SLURM: the local queue runs it,
with the same ``CompletedProcess`` as ``subprocess.run`` (the SLURM branch is in
``tests/slurm/test_run_auto_slurm.py``)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import jobmagics
from jobmagics import dropin
from tests.conftest import WorkerProcess

SCRIPT = ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]


@pytest.fixture
def path_without_sbatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process's PATH holds only a folder without SLURM's tools."""
    folder = tmp_path / "no-slurm-bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))
    return folder


def test_auto_without_sbatch_runs_on_the_local_queue(worker: WorkerProcess,
                                                     path_without_sbatch: Path) -> None:
    assert not dropin.slurm_reachable()
    job = jobmagics.run(SCRIPT, backend="auto", wait=False)
    assert isinstance(job, jobmagics.Job)
    assert job.record.backend == "local"
    assert job.wait(30).exit_code == 3


def test_auto_returns_what_subprocess_run_returns(worker: WorkerProcess, tmp_path: Path,
                                                   path_without_sbatch: Path) -> None:
    expected = subprocess.run(SCRIPT, capture_output=True, text=True, check=False)
    got = jobmagics.run(SCRIPT, backend="auto", capture_output=True, text=True, cwd=tmp_path)
    assert (got.returncode, got.stdout, got.stderr) == (3, "out\n", "err\n")
    assert (got.returncode, got.stdout, got.stderr) == (
        expected.returncode, expected.stdout, expected.stderr)
    with pytest.raises(subprocess.CalledProcessError) as info:
        jobmagics.run(SCRIPT, backend="auto", capture_output=True, check=True)
    assert info.value.returncode == 3 and info.value.stdout == b"out\n"


def test_an_sbatch_whose_cluster_does_not_answer_is_not_reachable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "broken-slurm"
    folder.mkdir()
    for tool, script in (("sbatch", "exit 1"), ("sinfo", "echo 'no controller' >&2; exit 1")):
        (folder / tool).write_text(f"#!/bin/sh\n{script}\n")
        (folder / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    assert not dropin.slurm_reachable()


def test_a_down_node_is_not_a_reachable_cluster_and_the_answer_is_cached(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "fake-slurm"
    folder.mkdir()
    calls = tmp_path / "sinfo-calls"
    (folder / "sbatch").write_text("#!/bin/sh\nexit 0\n")
    (folder / "sinfo").write_text(f"#!/bin/sh\necho x >> {calls}\necho 'idle*'\necho down\n")
    for tool in ("sbatch", "sinfo"):
        (folder / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    assert not dropin.slurm_reachable()
    assert not dropin.slurm_reachable()
    assert calls.read_text().count("x") == 1
