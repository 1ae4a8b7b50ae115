"""``--backend pbs`` end to end against real qsub/qstat/qdel: Debian's ``slurm-wlm-torque``
commands, which drive the single-node SLURM (a real PBS server is not packaged)."""
from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

import jobmagics
from jobmagics.model import State

LONG = 120.0


def slurm_fields(pbs_id: str) -> dict[str, str]:
    """What SLURM made of the qsub'd job (``scontrol show job``)."""
    result = subprocess.run(["scontrol", "-o", "show", "job", pbs_id], capture_output=True,
                            text=True, timeout=30, check=False)
    return dict(p.partition("=")[::2] for p in result.stdout.split() if "=" in p)


@pytest.fixture
def pbs_queue(slurm: str, queue: jobmagics.Queue, tool_calls: Callable[[str], Any],
              start_worker: Callable[..., Any]) -> jobmagics.Queue:
    missing = [t for t in ("qsub", "qstat", "qdel") if shutil.which(t) is None]
    if missing:
        pytest.fail(f"PBS commands missing ({', '.join(missing)}):"
                    " apt-get install slurm-wlm-torque", pytrace=False)
    start_worker("--pbs", "--slots", "1", "--no-kernel")
    return queue


def test_a_command_job_runs_through_qsub_with_its_resources_and_log(
        pbs_queue: jobmagics.Queue, tool_calls: Callable[[str], list[list[str]]]) -> None:
    job = pbs_queue.submit(["sh", "-c", "echo hello from pbs $PBS_JOBID; echo oops >&2"],
                           backend="pbs", cpus=2, memory="100M", timeout=90)
    job.wait(LONG)
    assert job.state is State.COMPLETED, (job.error, job.log())
    pbs_id = job.record.backend_id
    assert pbs_id and "hello from pbs" in job.log() and "oops" in job.log()
    assert (job.stage or "").startswith(f"pbs {pbs_id}:")
    script = (pbs_queue.path / "pbs" / f"{job.id}.sh").read_text()
    assert "#PBS -l nodes=1:ppn=2,mem=100mb,walltime=00:02:00" in script
    assert f"#PBS -N {job.id}" in script
    (qsub,) = tool_calls("qsub")
    assert qsub[:4] == ["-j", "oe", "-o", str(pbs_queue.path / "logs" / f"{job.id}.log")]
    fields = slurm_fields(pbs_id)
    assert fields.get("JobName") == job.id and fields.get("NumCPUs") == "2"
    assert fields.get("MinMemoryNode") == "100M"


def test_a_failing_pbs_job_fails_with_its_exit_code(pbs_queue: jobmagics.Queue) -> None:
    job = pbs_queue.submit(["sh", "-c", "echo about to fail; exit 3"], backend="pbs")
    job.wait(LONG)
    assert job.state is State.FAILED and job.exit_code == 3
    assert "exit code 3" in (job.error or "") and "about to fail" in job.log()


def test_cancel_of_a_running_pbs_job_is_one_qdel(
        pbs_queue: jobmagics.Queue, tool_calls: Callable[[str], list[list[str]]],
        wait_for: Callable[..., Any]) -> None:
    job = pbs_queue.submit(["sleep", "300"], backend="pbs")
    wait_for(lambda: "running" in (job.refresh().stage or ""), timeout=LONG, interval=0.1)
    job.cancel()
    assert job.wait(LONG).state is State.CANCELLED
    assert tool_calls("qdel") == [[job.record.backend_id]]


def test_a_pbs_function_job_s_result_arrives_as_a_file(pbs_queue: jobmagics.Queue) -> None:
    def where(x: int) -> tuple[int, str]:
        import os
        return x * 2, os.environ.get("SLURM_JOB_ID", "not in a batch job")

    job = pbs_queue.submit(function=where, args=(21,), backend="pbs")
    value, batch_id = job.result(timeout=LONG)
    assert value == 42 and batch_id == job.record.backend_id
    assert not list((pbs_queue.path / "pbs" / "reports").iterdir())


def test_a_chain_of_pbs_jobs_runs_in_order_through_the_queue(pbs_queue: jobmagics.Queue) -> None:
    first = pbs_queue.submit(["sh", "-c", "sleep 1; echo first"], backend="pbs")
    second = pbs_queue.submit(["echo", "second"], backend="pbs", after=[first])
    assert second.wait(LONG).state is State.COMPLETED
    assert first.record.finished_at is not None and second.record.started_at is not None
    assert first.record.finished_at <= second.record.started_at
