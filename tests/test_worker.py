"""The worker as users meet it: real worker processes on a real queue."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

import jobmagics
from tests.conftest import WorkerProcess, wait_for

# A job that sleeps, then appends "<job id> <start> <end>" to a file: the evidence for overlap checks.
STAMP = ("import os, sys, time; t0 = time.time(); time.sleep(float(sys.argv[2])); "
         "open(sys.argv[1], 'a').write(f\"{os.environ['JOBMAGICS_JOB_ID']} {t0} {time.time()}\\n\")")


def stamp_job(q: jobmagics.Queue, out: Path, seconds: float, **options: object) -> jobmagics.Job:
    return q.submit(command=[sys.executable, "-c", STAMP, str(out), str(seconds)], **options)  # type: ignore[arg-type]


def intervals(out: Path) -> list[tuple[str, float, float]]:
    rows = [line.split() for line in out.read_text().splitlines()]
    return sorted((r[0], float(r[1]), float(r[2])) for r in rows)


def max_overlap(spans: list[tuple[str, float, float]]) -> int:
    points = sorted([(s, 1) for _, s, _ in spans] + [(e, -1) for _, _, e in spans], key=lambda p: (p[0], p[1]))
    level = peak = 0
    for _, delta in points:
        level += delta
        peak = max(peak, level)
    return peak


def test_jobs_start_by_priority_then_submission_order(queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    queue.pause()
    jobs = [queue.submit(command=["true"], priority=p, name=str(i)) for i, p in enumerate([0, 5, 0, 10, 5])]
    start_worker("--slots", "1")
    queue.resume()
    for job in jobs:
        job.wait(30)
    started = [j.name for j in sorted(jobs, key=lambda j: j.started_at)]
    assert started == ["3", "1", "4", "0", "2"]


def test_hardware_jobs_never_overlap_across_workers_and_slots(queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], tmp_path: Path) -> None:
    out = tmp_path / "spans.txt"
    queue.pause()
    jobs = [stamp_job(queue, out, 0.15, resources=["hardware"]) for _ in range(8)]
    batch = [stamp_job(queue, tmp_path / "batch.txt", 0.3) for _ in range(4)]
    for _ in range(3):
        start_worker("--slots", "4", "--resource", "hardware")
    queue.resume()
    for job in jobs + batch:
        assert job.wait(60).state == "completed", job.log()
    assert len(intervals(out)) == 8
    assert max_overlap(intervals(out)) == 1
    assert max_overlap(intervals(tmp_path / "batch.txt")) >= 2  # batch jobs do run side by side


def test_a_worker_never_runs_more_than_its_slots_or_memory(queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], tmp_path: Path) -> None:
    queue.pause()
    slot_jobs = [stamp_job(queue, tmp_path / "slots.txt", 0.3) for _ in range(6)]
    wide = stamp_job(queue, tmp_path / "wide.txt", 0.3, cpus=2)
    memory_jobs = [stamp_job(queue, tmp_path / "mem.txt", 0.3, memory="600M") for _ in range(3)]
    start_worker("--slots", "2", "--memory", "1G")
    queue.resume()
    for job in slot_jobs + [wide] + memory_jobs:
        assert job.wait(60).state == "completed"
    everything = intervals(tmp_path / "slots.txt") + intervals(tmp_path / "wide.txt") + intervals(tmp_path / "mem.txt")
    assert max_overlap(intervals(tmp_path / "slots.txt")) == 2
    assert max_overlap(intervals(tmp_path / "mem.txt")) == 1
    (_, wide_start, wide_end), = intervals(tmp_path / "wide.txt")
    assert not [s for s in everything if s[1] < wide_end and s[2] > wide_start and s[0] != wide.id]
    assert max_overlap(everything) <= 2


def test_a_running_job_is_cancelled_within_a_few_seconds_and_its_processes_end(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    job = queue.submit(command=["sh", "-c", "sleep 60 & sleep 60; wait"])
    wait_for(lambda: job.refresh().record.pid is not None, 20)
    group = job.record.pid
    job.cancel()
    assert job.wait(10).state == "cancelled"
    wait_for(lambda: not [p for p in psutil.process_iter(["pid"]) if _pgid(p.info["pid"]) == group], 10)


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_a_job_that_ignores_sigterm_is_killed_after_the_grace_period(queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    start_worker("--slots", "1", "--grace", "0.5")
    job = queue.submit(command=["sh", "-c", "trap '' TERM; sleep 60"])
    wait_for(lambda: job.refresh().record.pid is not None, 20)
    job.cancel()
    assert job.wait(15).state == "cancelled"


def test_a_job_past_its_timeout_ends_in_state_timeout(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    job = queue.submit(command=["sleep", "60"], timeout=0.5)
    assert job.wait(30).state == "timeout"
    assert "timed out after 0.5 s" in job.error


def test_failures_are_retried_with_growing_backoff_under_the_same_id(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    job = queue.submit(command=["sh", "-c", "echo try; exit 3"], retries=2, retry_delay=0.2)
    assert job.wait(30).state == "failed"
    assert job.attempt == 3 and job.exit_code == 3
    starts = [e["at"] for e in job.events() if e["state"] == "running"]
    assert len(starts) == 3
    assert starts[1] - starts[0] >= 0.2 and starts[2] - starts[1] >= 0.4
    assert job.log().count("try") == 3


def test_a_flaky_job_completes_on_a_later_attempt(queue: jobmagics.Queue, worker: WorkerProcess, tmp_path: Path) -> None:
    marker = tmp_path / "tried"
    job = queue.submit(command=["sh", "-c", f"if [ -e {marker} ]; then exit 0; fi; touch {marker}; exit 1"],
                       retries=1, retry_delay=0.1)
    assert job.wait(30).state == "completed" and job.attempt == 2


def test_a_dependency_chain_runs_in_order(queue: jobmagics.Queue, worker: WorkerProcess, tmp_path: Path) -> None:
    a = stamp_job(queue, tmp_path / "chain.txt", 0.2)
    b = stamp_job(queue, tmp_path / "chain.txt", 0.1, after=[a])
    c = stamp_job(queue, tmp_path / "chain.txt", 0.1, after=[b])
    assert c.wait(30).state == "completed"
    spans = {job_id: (start, end) for job_id, start, end in intervals(tmp_path / "chain.txt")}
    assert spans[a.id][1] <= spans[b.id][0] and spans[b.id][1] <= spans[c.id][0]


def test_a_failed_parent_cancels_its_dependants_naming_it(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    a = queue.submit(command=["false"], hold=True)    # c must be queued before a can fail
    b = queue.submit(command=["true"], after=[a])
    c = queue.submit(command=["true"], after=[b])
    a.release()
    assert c.wait(30).state == "cancelled"
    assert b.state == "cancelled" and f"dependency {a.id} failed" in b.error
    assert b.started_at is None and c.started_at is None


def test_a_killed_workers_job_is_requeued_and_never_runs_twice_at_once(queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], tmp_path: Path) -> None:
    out = tmp_path / "spans.txt"
    first = start_worker("--slots", "1")
    job = stamp_job(queue, out, 8.0, retries=1)   # long enough to still run when the next worker starts
    wait_for(lambda: job.refresh().record.pid is not None, 20)
    orphan = job.record.pid
    first.kill()
    start_worker("--slots", "1")
    assert job.wait(60).state == "completed"
    assert job.attempt == 2
    assert not psutil.pid_exists(orphan) or psutil.Process(orphan).status() == psutil.STATUS_ZOMBIE
    assert max_overlap(intervals(out)) == 1
    assert len(intervals(out)) == 1  # the first attempt was stopped, not left to finish beside the second
    assert any("worker lost" in (e["detail"] or "") for e in job.events())


def test_a_killed_workers_job_without_retries_fails_with_worker_lost(queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    first = start_worker("--slots", "1")
    job = queue.submit(command=["sleep", "30"])
    wait_for(lambda: job.refresh().state == "running", 20)
    first.kill()
    start_worker("--slots", "1")
    assert job.wait(30).state == "failed"
    assert "worker lost" in job.error


def test_stopping_a_worker_gives_running_jobs_back_without_using_an_attempt(queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    worker = start_worker("--slots", "1", "--shutdown-grace", "0.3")
    job = queue.submit(command=["sleep", "30"])
    wait_for(lambda: job.refresh().state == "running", 20)
    assert worker.stop(signal.SIGTERM) == 0
    assert job.refresh().state == "pending" and job.attempt == 1


def test_a_worker_finishes_running_jobs_within_the_shutdown_grace(queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    worker = start_worker("--slots", "1", "--shutdown-grace", "30")
    job = queue.submit(command=["sleep", "0.5"])
    wait_for(lambda: job.refresh().state == "running", 20)
    worker.process.send_signal(signal.SIGINT)
    assert worker.process.wait(30) == 0
    assert job.refresh().state == "completed"


def test_drain_exits_when_the_queue_is_empty(queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    jobs = [queue.submit(command=["true"]) for _ in range(3)]
    worker = start_worker("--slots", "2", "--drain")
    assert worker.process.wait(30) == 0
    assert all(j.refresh().state == "completed" for j in jobs)


def test_output_reaches_the_log_while_the_job_runs(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    job = queue.submit(command=[sys.executable, "-u", "-c", "import time; print('first'); time.sleep(30)"])
    wait_for(lambda: "first" in job.log(), 20)
    assert job.refresh().state == "running"
    job.cancel()


def test_function_jobs_return_values_and_raise_the_jobs_exception(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    import numpy as np
    assert queue.submit(function=np.linspace, args=(0, 1, 5)).result(30).tolist() == [0, 0.25, 0.5, 0.75, 1]

    def divide(a: float, b: float) -> float:
        return a / b

    failing = queue.submit(function=divide, args=(1, 0))
    try:
        failing.result(30)
    except jobmagics.JobFailed as exc:
        assert isinstance(exc.__cause__, ZeroDivisionError)
        assert "ZeroDivisionError" in failing.error
    else:
        raise AssertionError("result() should raise")


def test_python_jobs_report_progress_and_know_their_job(queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    start_worker("--slots", "1", "--no-kernel")
    job = queue.submit(code="import jobmagics\njobmagics.progress(0.4, stage='sweep 2/5')\n"
                            "print(jobmagics.current_job().id)\nimport time; time.sleep(30)")
    wait_for(lambda: job.refresh().stage == "sweep 2/5", 20)
    assert job.progress == 0.4
    wait_for(lambda: job.id in job.log(), 10)
    job.cancel()


def test_a_missing_command_fails_with_a_clear_error(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    job = queue.submit(command=["no-such-program-xyz"])
    assert job.wait(30).state == "failed"
    assert job.error == "command not found: no-such-program-xyz"


def test_concurrent_submitters_lose_and_duplicate_nothing(queue_dir: Path, queue: jobmagics.Queue) -> None:
    code = ("import jobmagics, sys; q = jobmagics.Queue(sys.argv[1]); "
            "[q.submit(command=['true']) for _ in range(150)]")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(queue_dir)]) for _ in range(4)]
    assert [p.wait(120) for p in procs] == [0, 0, 0, 0]
    ids = [j.id for j in queue.jobs(limit=None)]
    assert len(ids) == len(set(ids)) == 600


def test_a_dead_worker_on_this_host_is_noticed_quickly(queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    first = start_worker("--slots", "1")
    job = queue.submit(command=["sleep", "30"])
    wait_for(lambda: job.refresh().state == "running", 20)
    start_worker("--slots", "1", "--resource", "other")
    first.kill()
    started = time.monotonic()
    wait_for(lambda: job.refresh().state != "running", 20)
    print(f"recovered after {time.monotonic() - started:.2f} s")  # a number for the curious; bench measures it
    assert job.state == "failed" and "worker lost" in job.error


def test_a_job_that_outgrows_its_memory_request_fails_and_says_so(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    hog = ("import time\nblocks = []\nfor _ in range(60):\n    blocks.append(bytearray(16 << 20))\n"
           "    time.sleep(0.05)\ntime.sleep(30)")
    job = queue.submit(command=[sys.executable, "-c", hog], memory="200M")
    assert job.wait(60).state == "failed"
    assert "200M" in job.error and ("memory limit" in job.error or "MemoryError" in job.error)
    assert queue.submit(command=["true"]).wait(30).state == "completed"  # the worker keeps serving


def test_a_job_within_its_memory_request_is_left_alone(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    job = queue.submit(command=[sys.executable, "-c", "x = bytearray(20 << 20); print(len(x))"], memory="500M")
    assert job.wait(30).state == "completed", job.error


def test_a_silent_worker_on_another_host_loses_its_jobs_after_its_lease(queue: jobmagics.Queue, queue_dir: Path, start_worker: Callable[..., WorkerProcess], tmp_path: Path) -> None:
    """A real worker that believes it runs on another host (its own UTS namespace), frozen with
    SIGSTOP: it cannot be checked by pid, so its jobs come back when its lease expires; when it
    wakes up, it finds itself presumed dead and stops its stale copy of the job."""
    if os.geteuid() != 0:
        pytest.skip("a second hostname needs a UTS namespace, which needs root (CI runs as root)")
    out = tmp_path / "spans.txt"
    with open(tmp_path / "remote.log", "wb") as log:   # closed once the worker is gone
        remote = subprocess.Popen(
            ["unshare", "--uts", "sh", "-c",
             f"hostname far-away-host && exec {sys.executable} -m kernel_worker --queue {queue_dir} --slots 1"],
            stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: any(w["host"] == "far-away-host" for w in queue.workers(alive_only=False)), 30)
            job = stamp_job(queue, out, 8.0, retries=1)
            wait_for(lambda: job.refresh().record.pid is not None, 20)
            remote.send_signal(signal.SIGSTOP)
            start_worker("--slots", "1")
            wait_for(lambda: job.refresh().attempt == 2 and job.state == "running", 30)
            assert any("silent for" in (e["detail"] or "") for e in job.events())
            remote.send_signal(signal.SIGCONT)   # it wakes, finds itself presumed dead, stops its stale copy
            assert job.wait(60).state == "completed"
            assert [span[0] for span in intervals(out)] == [job.id]   # the stale first attempt never finished
            assert "presumed dead" in (tmp_path / "remote.log").read_text()
        finally:
            remote.send_signal(signal.SIGCONT)
            remote.kill()
            remote.wait()


@pytest.mark.parametrize("executor", [[], ["--no-kernel"]], ids=["kernel", "subprocess"])
def test_python_jobs_accept_ipython_syntax(queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], executor: list[str]) -> None:
    start_worker("--slots", "1", *executor)
    job = queue.submit(code="files = !echo shell-says-hi\nprint(files[0])\n%time x = 1")
    assert job.wait(60).state == "completed", job.log()
    assert "shell-says-hi" in job.log()
