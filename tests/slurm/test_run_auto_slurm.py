"""``jobmagics.run(..., backend="auto")`` with the real single-node SLURM answering: the
command goes through sbatch and the result is the same ``CompletedProcess``."""
from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import pytest

import jobmagics
from jobmagics import dropin

SCRIPT = ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"]


def test_auto_with_a_reachable_cluster_runs_through_sbatch(
        slurm: str, queue: jobmagics.Queue, start_worker: Callable[..., Any],
        tool_calls: Callable[[str], list[list[str]]]) -> None:
    start_worker("--slurm", "--slots", "1")
    assert dropin.slurm_reachable()
    got = jobmagics.run(SCRIPT, backend="auto", capture_output=True, text=True, timeout=120)
    assert (got.returncode, got.stdout, got.stderr) == (3, "out\n", "err\n")
    assert len(tool_calls("sbatch")) == 1
    [job] = queue.jobs()
    assert job.record.backend == "slurm" and job.record.backend_id
    with pytest.raises(subprocess.CalledProcessError) as info:
        jobmagics.run(["/bin/sh", "-c", "exit 5"], backend="auto", check=True, timeout=120)
    assert info.value.returncode == 5
