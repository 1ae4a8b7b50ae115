"""The SLURM executor's pure parts: reading squeue/sacct/jobcomp answers, mapping SLURM
states to outcomes, batching the tracker's queries, sbatch options and scripts (arrays,
afterok), a missing sbatch."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

import jobmagics
from jobmagics.model import JobRecord
from kernel_worker.executors import JobContext
from kernel_worker.executors.batch import BatchExecution
from kernel_worker.executors.batch_tracker import BatchStatus
from kernel_worker.executors.slurm import SlurmExecutor, batch_script, outcome_for
from kernel_worker.executors.slurm_commands import sbatch_options, slurm_job_name
from kernel_worker.executors.slurm_tracker import (
    JobCompFile,
    SlurmTracker,
    exit_code_from_pair,
    exit_code_from_wait_status,
    parse_squeue,
    slurm_status,
)


def test_squeue_answers_are_read_with_exit_status_and_reason() -> None:
    text = ("12|12|N/A|FAILED|768|NonZeroExitCode|localhost|\n13|13|N/A|PENDING|0|Resources||\n"
            "14|14|N/A|CANCELLED|15|None|n1|\n")
    statuses = parse_squeue(text)
    assert statuses["12"] == slurm_status("FAILED", 3, "NonZeroExitCode", "localhost")
    assert statuses["12"].terminal
    assert statuses["13"].state == "PENDING" and statuses["13"].reason == "Resources"
    assert statuses["13"].waiting
    assert statuses["14"].exit_code == -15 and statuses["14"].reason == ""
    assert parse_squeue("garbage\n") == {}


def test_the_tasks_of_an_array_job_are_read_as_array_id_underscore_index() -> None:
    text = ("20|20|2|PENDING|0|JobArrayTaskLimit||\n22|20|1|RUNNING|0|None|localhost|\n"
            "21|20|0|COMPLETED|0|None|localhost|\n20|20|3-4%2|PENDING|0|None||\n")
    statuses = parse_squeue(text)
    assert set(statuses) == {"20_0", "20_1", "20_2"}      # a line of several tasks is skipped
    assert statuses["20_2"].waiting and statuses["20_2"].reason == "JobArrayTaskLimit"
    assert statuses["20_1"].state == "RUNNING" and not statuses["20_1"].waiting
    assert statuses["20_0"].terminal


def test_exit_codes_from_wait_statuses_and_pairs() -> None:
    assert exit_code_from_wait_status(0) == 0
    assert exit_code_from_wait_status(3 << 8) == 3
    assert exit_code_from_wait_status(9) == -9
    assert exit_code_from_pair("3:0") == 3
    assert exit_code_from_pair("0:15") == -15
    assert exit_code_from_pair("") is None


@pytest.mark.parametrize("state, code, ok, hint, words", [
    ("COMPLETED", 0, True, None, None),
    ("FAILED", 3, False, None, "exit code 3"),
    ("FAILED", -9, False, None, "killed by signal 9"),
    ("TIMEOUT", -15, False, "timeout", "SLURM: TIMEOUT"),
    ("DEADLINE", None, False, "timeout", "SLURM: DEADLINE"),
    ("CANCELLED", -15, False, "cancelled", "SLURM: CANCELLED"),
    ("OUT_OF_MEMORY", 0, False, None, "SLURM: OUT_OF_MEMORY"),
    ("NODE_FAIL", None, False, None, "SLURM: NODE_FAIL"),
    ("LOST", None, False, None, "SLURM: LOST"),
])
def test_slurm_states_map_onto_outcomes(state: str, code: int | None, ok: bool, hint: str | None,
                                        words: str | None) -> None:
    outcome = outcome_for(slurm_status(state, code), "42")
    assert outcome is not None
    assert outcome.ok is ok
    assert outcome.state == hint
    if words:
        assert words in (outcome.error or "")


@pytest.mark.parametrize("state", ["PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED"])
def test_unfinished_slurm_states_have_no_outcome(state: str) -> None:
    assert outcome_for(slurm_status(state), "42") is None


def test_a_job_cancelled_because_its_dependency_failed_says_so() -> None:
    outcome = outcome_for(slurm_status("CANCELLED", 0, "DependencyNeverSatisfied"), "42")
    assert outcome is not None and outcome.state == "cancelled"
    assert "did not complete" in (outcome.error or "")


def test_the_tracker_asks_squeue_once_for_all_jobs() -> None:
    calls: list[list[str]] = []

    def fake_squeue(ids: Sequence[str]) -> dict[str, BatchStatus]:
        calls.append(list(ids))
        return {i: slurm_status("RUNNING") for i in ids}

    tracker = SlurmTracker(squeue=fake_squeue)
    tracker._statuses = {str(i): None for i in range(100)}    # watched, without the thread
    tracker.refresh([str(i) for i in range(100)])
    assert len(calls) == 1 and len(calls[0]) == 100
    assert tracker.status("57") == slurm_status("RUNNING")


def test_polling_an_execution_only_reads_the_tracker(queue: jobmagics.Queue) -> None:
    def no_squeue(ids: Sequence[str]) -> dict[str, BatchStatus]:
        raise AssertionError("poll() must not query SLURM")

    executor = SlurmExecutor(JobContext(queue.layout, "w"), SlurmTracker(squeue=no_squeue))
    execution = BatchExecution(_job(queue, command=["true"]), "7", executor, None)
    for _ in range(1000):
        assert execution.poll() is None
    executor.tracker._statuses["7"] = slurm_status("COMPLETED", 0)
    outcome = execution.poll()
    assert outcome is not None and outcome.ok


def test_jobs_that_left_slurmctld_are_found_in_the_jobcomp_file(tmp_path: Path) -> None:
    log = tmp_path / "jobcomp.txt"
    log.write_text("JobId=5 UserId=root(0) Name=wrap JobState=COMPLETED NodeList=localhost ExitCode=0:0\n"
                   "JobId=51 UserId=root(0) Name=wrap JobState=FAILED NodeList=localhost ExitCode=3:0\n")
    jobcomp = JobCompFile()
    jobcomp._path = str(log)
    found = jobcomp.lookup(["51", "5", "6"])
    assert found["51"] == slurm_status("FAILED", 3, "", "localhost", "jobcomp")
    assert found["5"] == slurm_status("COMPLETED", 0, "", "localhost", "jobcomp")
    assert "6" not in found


def test_array_tasks_are_found_in_the_jobcomp_file_by_array_id_and_index(tmp_path: Path) -> None:
    log = tmp_path / "jobcomp.txt"
    log.write_text("JobId=31 Name=a JobState=COMPLETED NodeList=n ExitCode=0:0 ArrayJobId=30 ArrayTaskId=1\n"
                   "JobId=30 Name=a JobState=FAILED NodeList=n ExitCode=2:0 ArrayJobId=30 ArrayTaskId=0\n")
    jobcomp = JobCompFile()
    jobcomp._path = str(log)
    found = jobcomp.lookup(["30_0", "30_1", "30"])
    assert found["30_0"].state == "FAILED" and found["30_0"].exit_code == 2
    assert found["30_1"].state == "COMPLETED"
    assert "30" not in found


def _job(queue: jobmagics.Queue, **options: object) -> JobRecord:
    return queue.store.get(queue.submit(backend="slurm", **options).id)  # type: ignore[arg-type]


def test_sbatch_options_carry_name_cpus_memory_time_and_folder(queue: jobmagics.Queue) -> None:
    job = _job(queue, command=["true"], name="fit  v2", cpus=2, memory="1.5G", timeout=61, cwd="/tmp",
               options={"sbatch_args": ["--partition=debug"]})
    options = sbatch_options(job, "/q/logs/x.log", None, None)
    assert f"--job-name=fit v2 [{job.id}]" in options
    assert {"--cpus-per-task=2", "--mem=1536M", "--time=2", "--chdir=/tmp", "--output=/q/logs/x.log",
            "--open-mode=append", "--parsable", "--partition=debug"} <= set(options)
    assert slurm_job_name(_job(queue, command=["true"])).startswith("JOB-")


def test_the_batch_script_runs_the_job_like_the_subprocess_executor(queue: jobmagics.Queue) -> None:
    job = _job(queue, command=["echo", "it's $HOME; rm -rf /"])
    script = batch_script(job, JobContext(queue.layout, "w"))
    assert script.startswith("#!/bin/sh\n")
    assert "exec echo 'it'\"'\"'s $HOME; rm -rf /'\n" in script


def test_a_missing_sbatch_fails_the_job_with_a_clear_message(
        queue: jobmagics.Queue, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))          # no sbatch anywhere on it
    job = _job(queue, command=["true"], env={"PATH": str(tmp_path)})
    executor = SlurmExecutor(JobContext(queue.layout, "w"))
    execution = executor.start(job, JobContext(queue.layout, "w"))
    outcome = execution.poll()
    assert outcome is not None and not outcome.ok
    assert "sbatch not found" in (outcome.error or "") and "install" in (outcome.error or "")


def test_a_lost_attempt_is_cancelled_by_id_or_else_by_its_unique_name(
        queue: jobmagics.Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    from kernel_worker.executors import slurm_commands

    calls: list[list[str]] = []
    monkeypatch.setattr(slurm_commands, "run_slurm", lambda argv, **_: calls.append(list(argv)))
    job = _job(queue, command=["true"], name="fit")
    assert slurm_commands.cancel_orphan(job)
    job.backend_id = "77"
    assert slurm_commands.cancel_orphan(job)
    assert calls == [["scancel", f"--name=fit [{job.id}]", f"--user={job.user}"], ["scancel", "77"]]
