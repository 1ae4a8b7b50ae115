"""Function jobs forked from the worker's pre-imported zygote behave like fresh interpreters."""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import psutil

import jobmagics
from kernel_worker import proctrack
from tests.conftest import WorkerProcess, wait_for


def _zygote_of(worker: WorkerProcess) -> psutil.Process:
    children = psutil.Process(worker.pid).children()
    return next(c for c in children if "kernel_worker.runners.zygote" in " ".join(c.cmdline()))


def test_function_jobs_are_forked_from_the_zygote(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    def parent_pid() -> int:       # defined here so it is pickled by value, not by module name
        return os.getppid()

    assert queue.submit(function=parent_pid).result(30) == wait_for(lambda: _zygote_of(worker)).pid


def test_a_forked_job_sees_its_own_folder_environment_and_modules(queue: jobmagics.Queue, worker: WorkerProcess, tmp_path: Path) -> None:
    (tmp_path / "labhelpers.py").write_text("def where():\n    import os\n    return os.getcwd(), os.environ['SAMPLE']\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import labhelpers  # a module of the user's folder: pickled by reference, imported in the job
        job = queue.submit(function=labhelpers.where, cwd=tmp_path, env={"SAMPLE": "NV-12"})
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("labhelpers", None)
    assert job.result(30) == (str(tmp_path), "NV-12")


def test_a_running_forked_job_can_be_cancelled(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    job = queue.submit(function=time.sleep, args=(60,))
    wait_for(lambda: job.refresh().record.pid is not None, 30)
    pid = job.record.pid
    job.cancel()
    assert job.wait(20).state == "cancelled"
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 10)


def test_a_forked_job_killed_from_outside_fails_with_a_reason(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    job = queue.submit(function=os.kill, args=(0, signal.SIGKILL))   # kills its own process group
    assert job.wait(30).state == "failed"
    assert "without reporting a result" in job.error


def test_a_dead_zygote_is_replaced_and_no_job_is_lost(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    assert queue.submit(function=abs, args=(-1,)).result(30) == 1
    _zygote_of(worker).kill()
    assert [queue.submit(function=abs, args=(-i,)).result(60) for i in range(3)] == [0, 1, 2]


def test_output_of_a_forked_job_reaches_its_log(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    job = queue.submit(function=print, args=("hello from the fork",))
    assert job.wait(30).state == "completed"
    assert "hello from the fork" in job.log()


def test_a_forked_job_runs_inside_its_attempts_process_container(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    """The child joins its attempt's container itself, before any of the job runs, so nothing
    the job starts can leave it (a cgroup here; without cgroups the marks carry the attempt)."""
    def where_am_i() -> tuple[str, str]:
        import os
        with open("/proc/self/cgroup") as handle:
            return handle.read(), os.environ["JOBMAGICS_ATTEMPT"]

    job = queue.submit(function=where_am_i)
    cgroups, attempt = job.result(30)
    assert attempt == "1"
    tracker = proctrack.tracker_for(queue.path)
    if tracker.hierarchy is not None:
        assert f"/{proctrack.TOP}/{tracker.key}/{job.id}.1\n" in cgroups, cgroups
