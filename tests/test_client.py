"""The Python API (Queue, Job) on a real queue, without a worker unless stated."""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from jobmagics.errors import InvalidJob, InvalidTransition, JobNotFound, WaitTimeout


def test_the_queue_folder_follows_the_environment_then_the_home_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBMAGICS_QUEUE", str(tmp_path / "from-env"))
    assert jobmagics.Queue().path == tmp_path / "from-env"
    monkeypatch.delenv("JOBMAGICS_QUEUE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    q = jobmagics.Queue()
    assert q.path == tmp_path / "home" / ".jobmagics" / "queue"
    assert {p.name for p in q.path.iterdir()} >= {"jobs.db", "logs", "data", "outputs", "configs"}


def test_a_submitted_job_records_who_where_and_what(queue: jobmagics.Queue, tmp_path: Path) -> None:
    job = queue.submit(command=["python", "fit.py"], name="fit", priority=5, resources=["hardware"], cpus=2,
                       memory="4G", timeout=600, retries=2, cwd=tmp_path, env={"A": "1"})
    record = job.record
    assert (record.kind, record.name, record.priority, record.resources, record.cpus) == ("command", "fit", 5, ["hardware"], 2)
    assert record.memory == 4 << 30 and record.timeout == 600 and record.retries == 2 and record.attempt == 1
    assert record.user == queue.user and record.host and record.cwd == str(tmp_path) and record.env == {"A": "1"}
    assert job.state == "pending" and record.submitted_at > 0


def test_bulk_submission_is_all_or_nothing(queue: jobmagics.Queue) -> None:
    jobs = queue.submit_many([{"command": ["true"]} for _ in range(5)])
    assert len(jobs) == 5 and queue.count() == 5
    with pytest.raises(InvalidJob):
        queue.submit_many([{"command": ["true"]}, {"command": ["true"], "resources": ["nope"]}])
    assert queue.count() == 5


@pytest.mark.parametrize("call", [
    lambda q: q.submit(command=["true"], priority="urgent"),
    lambda q: q.submit(command=["true"], resources=["no-such-resource"]),
    lambda q: q.submit(command=["true"], memory="lots"),
    lambda q: q.submit(command="echo hi"),
    lambda q: q.submit(code="def broken(:\n"),
    lambda q: q.submit(command=["true"], after=["JOB-20000101-00001"]),
    lambda q: q.submit(function=lambda: threading.Lock(), args=(threading.Lock(),)),
    lambda q: q.submit(command=["true"], code="print(1)"),
    lambda q: q.submit(),
    lambda q: q.cancel("JOB-20000101-00001"),
    lambda q: q.get("not-an-id"),
    lambda q: q.jobs(state="exploded"),
    lambda q: q.history(state="running"),
    lambda q: q.pause(resource="nope"),
], ids=["priority", "resource", "memory", "shell-string", "syntax", "unknown-parent", "unpicklable",
        "two-bodies", "no-body", "unknown-id", "bad-id", "bad-state", "history-state", "pause-unknown"])
def test_bad_input_gives_one_clear_error_and_changes_nothing(queue: jobmagics.Queue, call: Callable[[Any], Any]) -> None:
    queue.submit(command=["true"])
    before = (queue.count(), queue.data_version())
    with pytest.raises(jobmagics.JobmagicsError) as info:
        call(queue)
    assert str(info.value) and "\n" not in str(info.value)
    assert (queue.count(), queue.data_version()) == before


def test_an_unknown_id_says_so(queue: jobmagics.Queue) -> None:
    with pytest.raises(JobNotFound, match="JOB-20000101-00007"):
        queue.get("JOB-20000101-00007")


def test_a_pending_job_can_be_cancelled_and_never_runs(queue: jobmagics.Queue) -> None:
    job = queue.submit(command=["true"])
    job.cancel()
    assert job.state == "cancelled" and job.started_at is None
    with pytest.raises(InvalidTransition, match="already cancelled"):
        job.cancel()


def test_held_jobs_wait_until_released(queue: jobmagics.Queue) -> None:
    job = queue.submit(command=["true"])
    job.hold()
    assert job.state == "waiting" and job.record.held
    with pytest.raises(InvalidTransition):
        job.hold()
    job.release()
    assert job.state == "pending" and not job.record.held
    held_at_submit = queue.submit(command=["true"], hold=True)
    assert held_at_submit.state == "waiting"


def test_dependants_wait_and_failure_cascades_with_the_parents_name(queue: jobmagics.Queue) -> None:
    a = queue.submit(command=["true"])
    b = queue.submit(command=["true"], after=[a])
    c = queue.submit(command=["true"], after=[b.id])
    assert (b.state, c.state) == ("waiting", "waiting")
    a.cancel()
    assert b.state == "cancelled" and a.id in b.error
    assert c.state == "cancelled" and b.id in c.error


def test_a_job_cannot_be_queued_after_one_that_already_failed(queue: jobmagics.Queue) -> None:
    a = queue.submit(command=["true"])
    a.cancel()
    with pytest.raises(InvalidJob, match="could never start"):
        queue.submit(command=["true"], after=[a])


def test_retry_puts_a_finished_job_back_under_the_same_id(queue: jobmagics.Queue) -> None:
    job = queue.submit(command=["true"])
    with pytest.raises(InvalidTransition):
        job.retry()
    job.cancel()
    job.retry()
    assert job.state == "pending" and job.attempt == 2 and job.error is None


def test_queue_lists_active_jobs_in_start_order_and_history_the_finished(queue: jobmagics.Queue) -> None:
    low = queue.submit(command=["true"], priority=0)
    high = queue.submit(command=["true"], priority=3)
    gone = queue.submit(command=["true"])
    gone.cancel()
    assert [j.id for j in queue.queue()] == [high.id, low.id]
    assert [j.id for j in queue.history()] == [gone.id]
    assert [j.id for j in queue.jobs(state="pending")] == [low.id, high.id][::-1]
    assert queue.stats()["states"]["pending"] == 2


def test_wait_gives_up_after_its_timeout(queue: jobmagics.Queue) -> None:
    job = queue.submit(command=["true"])
    with pytest.raises(WaitTimeout, match="still pending"):
        job.wait(timeout=0.1)


def test_progress_outside_a_job_is_a_no_op_but_checks_its_input() -> None:
    jobmagics.progress(0.5, stage="fine")
    with pytest.raises(InvalidJob):
        jobmagics.progress(1.5)
    with pytest.raises(jobmagics.NotInJob):
        jobmagics.current_job()


def test_pausing_and_admins_belong_to_the_queue_owner(queue: jobmagics.Queue) -> None:
    queue.pause()
    assert queue.stats()["paused"]
    queue.resume()
    queue.pause("hardware")
    assert queue.stats()["resources"]["hardware"]["paused"]
    queue.resume("hardware")
    queue.add_admin("root")
    assert queue.admins() == ["root"]
    with pytest.raises(InvalidJob, match="no Unix account"):
        queue.add_admin("no-such-user-xyz")


def test_numpy_numbers_in_an_experiment_config_are_stored_as_plain_json(queue: jobmagics.Queue) -> None:
    import numpy as np
    job = queue.submit(experiment="jobmagics.experiments:Rabi", config={"points": np.int64(21), "amplitude": np.float32(0.5)})
    assert job.record.experiment["config"] == {"points": 21, "amplitude": 0.5}


def test_an_experiment_config_that_is_not_json_is_refused(queue: jobmagics.Queue) -> None:
    with pytest.raises(InvalidJob, match="config must be JSON"):
        queue.submit(experiment="jobmagics.experiments:Rabi", config={"when": object()})
    assert queue.count() == 0


def test_an_experiment_whose_class_cannot_be_found_is_refused_at_submit(queue: jobmagics.Queue) -> None:
    with pytest.raises(InvalidJob, match=r"module jobmagics\.experiments has no class Rabbi"):
        queue.submit(experiment="jobmagics.experiments:Rabbi")
    assert queue.count() == 0


def test_wait_async_returns_the_finished_job_without_blocking_the_loop(queue: jobmagics.Queue) -> None:
    import anyio
    job = queue.submit(command=["true"])

    async def main() -> str:
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.to_thread.run_sync, job.cancel)
            finished = await job.wait_async(timeout=10)
        return finished.state.value

    assert anyio.run(main) == "cancelled"


def test_adding_several_admins_checks_every_account_before_adding_any(queue: jobmagics.Queue) -> None:
    with pytest.raises(InvalidJob, match="no-such-user-xyz"):
        queue.add_admin("root", "no-such-user-xyz")
    assert queue.admins() == []
    queue.add_admin("root", "nobody")
    assert queue.admins() == ["nobody", "root"]


def test_an_allowed_experiment_is_named_as_module_colon_class(queue: jobmagics.Queue) -> None:
    with pytest.raises(InvalidJob, match="module:Class"):
        queue.allow_experiment("jobmagics.experiments:Rabi", "just-a-module")
    assert queue.allowed_experiments() == []
    queue.allow_experiment("jobmagics.experiments:Rabi")
    assert queue.allowed_experiments() == ["jobmagics.experiments:Rabi"]
