"""``--backend slurm`` against a real single-node SLURM: jobs go through sbatch, are tracked
with squeue, stopped with scancel, and end in the right jobmagics state."""
from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

import jobmagics
from jobmagics.errors import InvalidJob
from jobmagics.model import State

LONG = 120.0        # SLURM takes seconds per job; never assert on timing


def squeue_lists(slurm_id: str) -> bool:
    """True while squeue still shows the job pending, running or completing."""
    result = subprocess.run(["squeue", "-h", "-j", slurm_id, "-o", "%i %T"], capture_output=True,
                            text=True, timeout=30, check=False)
    return result.returncode == 0 and bool(result.stdout.strip())


def slurm_state(slurm_id: str) -> str:
    result = subprocess.run(["scontrol", "-o", "show", "job", slurm_id], capture_output=True,
                            text=True, timeout=30, check=False)
    fields = dict(p.partition("=")[::2] for p in result.stdout.split() if "=" in p)
    return fields.get("JobState", "")


@pytest.fixture
def slurm_queue(slurm: str, queue: jobmagics.Queue, start_worker: Callable[..., Any]) -> jobmagics.Queue:
    """A queue served by one worker that submits ``--backend slurm`` jobs to SLURM."""
    start_worker("--slurm", "--slots", "1")
    return queue


def test_command_job_runs_on_slurm_with_its_output_in_the_log(slurm_queue: jobmagics.Queue) -> None:
    job = slurm_queue.submit(["sh", "-c", "echo hello from slurm job $SLURM_JOB_ID; echo oops >&2"],
                             backend="slurm", name="greeting")
    job.wait(LONG)
    assert job.state is State.COMPLETED, (job.error, job.log())
    assert job.exit_code == 0
    slurm_id = job.record.backend_id
    assert slurm_id and slurm_id.isdigit()
    assert f"hello from slurm job {slurm_id}" in job.log()
    assert "oops" in job.log()
    assert job.stage and job.stage.startswith(f"slurm {slurm_id}:")
    assert (slurm_queue.path / "slurm" / f"{job.id}.sh").exists()


def test_python_and_function_jobs_run_on_slurm(slurm_queue: jobmagics.Queue) -> None:
    def where(x: int) -> tuple[int, str]:
        import os
        return x * 2, os.environ.get("SLURM_JOB_ID", "not in slurm")

    function_job = slurm_queue.submit(function=where, args=(21,), backend="slurm")
    python_job = slurm_queue.submit(code="import os\nprint('python on slurm', os.environ['SLURM_JOB_ID'])",
                                    backend="slurm")
    value, slurm_id = function_job.result(timeout=LONG)
    assert value == 42
    assert slurm_id == function_job.record.backend_id
    python_job.result(timeout=LONG)
    assert python_job.state is State.COMPLETED
    assert f"python on slurm {python_job.record.backend_id}" in python_job.log()


def test_a_failing_job_is_failed_with_its_exit_code(slurm_queue: jobmagics.Queue) -> None:
    job = slurm_queue.submit(["sh", "-c", "echo about to fail; exit 3"], backend="slurm")
    job.wait(LONG)
    assert job.state is State.FAILED
    assert job.exit_code == 3
    assert "exit code 3" in (job.error or "")
    assert "about to fail" in job.log()


def test_a_function_exception_comes_back_from_slurm(slurm_queue: jobmagics.Queue) -> None:
    def boom() -> None:
        raise ValueError("bad fit")

    job = slurm_queue.submit(function=boom, backend="slurm")
    with pytest.raises(jobmagics.JobmagicsError) as raised:
        job.result(timeout=LONG)
    assert isinstance(raised.value.__cause__, ValueError)
    assert job.state is State.FAILED


def test_cancel_of_a_running_slurm_job(slurm_queue: jobmagics.Queue, wait_for: Callable[..., Any]) -> None:
    job = slurm_queue.submit(["sleep", "300"], backend="slurm")
    wait_for(lambda: "RUNNING" in (job.refresh().stage or ""), timeout=LONG, interval=0.1)
    slurm_id = job.record.backend_id
    assert slurm_id and slurm_state(slurm_id) == "RUNNING"
    job.cancel()
    job.wait(LONG)
    assert job.state is State.CANCELLED
    wait_for(lambda: not squeue_lists(slurm_id), timeout=LONG, interval=0.2)


def test_cancel_of_a_job_still_pending_in_slurm(slurm_queue: jobmagics.Queue,
                                                wait_for: Callable[..., Any]) -> None:
    # --hold keeps it PENDING in SLURM while jobmagics shows it running (submitted)
    job = slurm_queue.submit(["true"], backend="slurm", options={"sbatch_args": ["--hold"]})
    wait_for(lambda: "PENDING" in (job.refresh().stage or ""), timeout=LONG, interval=0.1)
    assert job.state is State.RUNNING
    slurm_id = job.record.backend_id
    assert slurm_id
    job.cancel()
    job.wait(LONG)
    assert job.state is State.CANCELLED
    wait_for(lambda: not squeue_lists(slurm_id), timeout=LONG, interval=0.2)


def test_a_slurm_job_times_out(slurm_queue: jobmagics.Queue, wait_for: Callable[..., Any]) -> None:
    job = slurm_queue.submit(["sleep", "300"], backend="slurm", timeout=3)
    job.wait(LONG)
    assert job.state is State.TIMEOUT
    slurm_id = job.record.backend_id
    assert slurm_id
    wait_for(lambda: not squeue_lists(slurm_id), timeout=LONG, interval=0.2)


def test_instrument_jobs_are_refused_for_slurm(queue: jobmagics.Queue) -> None:
    with pytest.raises(InvalidJob, match="SLURM"):
        queue.submit(["true"], backend="slurm", resources=["hardware"])
    with pytest.raises(InvalidJob, match="SLURM"):
        queue.submit(experiment="jobmagics.experiments.builtin:Rabi", backend="slurm")
    assert queue.count() == 0


def test_a_job_sbatch_refuses_fails_with_sbatch_s_reason(slurm_queue: jobmagics.Queue) -> None:
    job = slurm_queue.submit(["true"], backend="slurm",
                             options={"sbatch_args": ["--partition=no-such-partition"]})
    job.wait(LONG)
    assert job.state is State.FAILED
    assert "sbatch refused the job" in (job.error or "")
    after = slurm_queue.submit(["true"], backend="slurm")      # the worker carries on
    assert after.wait(LONG).state is State.COMPLETED


def test_a_lost_worker_s_slurm_job_is_cancelled_before_it_is_requeued(
        slurm: str, queue: jobmagics.Queue, start_worker: Callable[..., Any],
        wait_for: Callable[..., Any]) -> None:
    first = start_worker("--slurm", "--slots", "1")
    job = queue.submit(["sh", "-c", "echo attempt $SLURM_JOB_ID; sleep 300"], backend="slurm", retries=1)
    wait_for(lambda: "RUNNING" in (job.refresh().stage or ""), timeout=LONG, interval=0.1)
    orphan = job.record.backend_id
    assert orphan
    first.stop(signal.SIGKILL)
    start_worker("--slurm", "--slots", "1")
    wait_for(lambda: job.refresh().record.backend_id not in (None, orphan), timeout=LONG, interval=0.1)
    wait_for(lambda: not squeue_lists(orphan), timeout=LONG, interval=0.2)
    assert job.state is State.RUNNING
    job.cancel()
    assert job.wait(LONG).state is State.CANCELLED


def test_a_job_cancelled_in_slurm_directly_ends_with_slurm_s_word(
        slurm_queue: jobmagics.Queue, wait_for: Callable[..., Any]) -> None:
    job = slurm_queue.submit(["sleep", "300"], backend="slurm")
    wait_for(lambda: "RUNNING" in (job.refresh().stage or ""), timeout=LONG, interval=0.1)
    subprocess.run(["scancel", job.record.backend_id], check=True, timeout=30)   # an admin, say
    job.wait(LONG)
    assert job.state is State.CANCELLED
    assert "SLURM: CANCELLED" in (job.error or "")


def test_slurm_s_own_time_limit_ends_the_job_with_slurm_timeout(slurm_queue: jobmagics.Queue) -> None:
    # No jobmagics timeout: SLURM's limit (rounded up to a minute by SLURM) ends it. About 60 s.
    job = slurm_queue.submit(["sleep", "300"], backend="slurm", options={"sbatch_args": ["--time=0:05"]})
    job.wait(LONG + 60)
    assert job.state is State.TIMEOUT
    assert "SLURM: TIMEOUT" in (job.error or "")


def test_sacct_answers_for_the_tasks_slurmctld_forgot(slurm: str, wait_for: Callable[..., Any]) -> None:
    # .ci/slurm-up starts slurmdbd with a mariadbd of its own: accounting keeps every job
    from kernel_worker.executors.slurm_tracker import Accounting, SlurmTracker

    submitted = subprocess.run(["sbatch", "--parsable", "--array=0-1", "--output=/dev/null",
                                "--wrap", "exit $SLURM_ARRAY_TASK_ID"],
                               capture_output=True, text=True, timeout=30, check=True)
    array_job = submitted.stdout.strip().split(";")[0]
    tasks = [f"{array_job}_0", f"{array_job}_1"]
    accounting = Accounting()
    accounting.lookup(tasks)
    assert accounting.enabled, "sacct says accounting is disabled: slurm-up started no slurmdbd"

    def both_ended() -> bool:
        found = accounting.lookup(tasks)
        return len(found) == 2 and all(status.terminal for status in found.values())

    wait_for(both_ended, timeout=LONG, interval=0.5)
    forgetful = SlurmTracker(squeue=lambda ids: {})      # as if slurmctld no longer knew them
    forgetful._statuses = dict.fromkeys(tasks)
    forgetful.refresh(tasks)
    first, second = (forgetful.status(task) for task in tasks)
    assert first is not None and first.state == "COMPLETED" and first.source == "sacct"
    assert second is not None and second.state == "FAILED" and second.exit_code == 1
