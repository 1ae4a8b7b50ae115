"""Batch python jobs run in kernels forked from the worker's kernel zygote, and each still
starts as clean as a kernel started as a new Python: no other job's variables, module state,
environment or random stream, and nothing of them outlives the worker."""
from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import psutil
import pytest

import jobmagics
from jobmagics import State
from kernel_worker.executors.kernel_fork import KernelForker
from kernel_worker.executors.kernel_session import ManagedKernel, kernel_environment
from kernel_worker.proctrack import tracker_for
from tests.conftest import WorkerProcess, wait_for

ZYGOTE = "kernel_worker.executors.kernel_zygote"
ZYGOTES_OWN = {"gc", "kernel_worker.executors.forking"}     # how it serves, not what it preloads


def kernel_zygote_of(worker: WorkerProcess) -> psutil.Process:
    def found() -> psutil.Process | None:
        children = psutil.Process(worker.pid).children()
        return next((c for c in children if ZYGOTE in " ".join(c.cmdline())), None)
    zygote = wait_for(found, timeout=60)
    assert isinstance(zygote, psutil.Process)
    return zygote


def test_a_python_job_runs_in_a_kernel_forked_from_the_kernel_zygote(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    job = queue.submit(code="import os\nprint(os.getppid())")
    assert job.wait(120).state is State.COMPLETED, (job.error, job.log())
    assert int(job.log()) == kernel_zygote_of(worker).pid


def test_no_job_sees_the_variables_modules_environment_or_folder_another_job_changed(queue: jobmagics.Queue, worker: WorkerProcess, tmp_path: Path) -> None:
    spoil = ("leftover = 42\nimport json, os, sys\njson.spoiled = True\nsys.path.append('/spoiled')\n"
             "os.environ['SPOILED'] = '1'\nos.chdir('/')\nimport xml.dom.minidom\n")
    look = ("import json, os, sys\n"
            "print(json.dumps({'variable': 'leftover' in globals(),"
            " 'module': hasattr(json, 'spoiled'), 'path': '/spoiled' in sys.path,"
            " 'environment': 'SPOILED' in os.environ, 'folder': os.getcwd(),"
            " 'imported': 'xml.dom.minidom' in sys.modules}))")
    spoilers = [queue.submit(code=spoil, cwd=tmp_path) for _ in range(4)]
    lookers = [queue.submit(code=look, cwd=tmp_path, after=[spoiler]) for spoiler in spoilers]
    for looker in lookers:
        assert looker.wait(180).state is State.COMPLETED, (looker.error, looker.log())
        assert json.loads(looker.log()) == {"variable": False, "module": False, "path": False,
                                            "environment": False, "folder": str(tmp_path),
                                            "imported": False}


def test_forked_kernels_do_not_share_a_random_stream(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    jobs = [queue.submit(code="import random\nprint(random.getrandbits(64))") for _ in range(4)]
    draws = [int(job.wait(120).log()) for job in jobs]
    assert len(set(draws)) == len(draws), draws


def test_a_forked_kernel_starts_with_no_module_a_kernel_started_as_a_new_python_lacks(tmp_path: Path) -> None:
    """The zygote imports only what a kernel imports to start (and our prelude, which every
    job's kernel imports first), besides its own serving code: so a forked kernel holds no
    module the job did not ask for."""
    queue = jobmagics.Queue(tmp_path / "queue")
    home = tracker_for(queue.path).home(f"test_{os.getpid()}_cafe")
    forker = KernelForker(kernel_environment(str(queue.path)), home, str(queue.path))
    prelude = "import kernel_worker.executors.kernel_prelude\n"
    listing = "import sys\nprint(' '.join(sorted(sys.modules)))"

    async def modules(kernel: ManagedKernel) -> set[str]:
        texts: list[str] = []
        try:
            await kernel.execute(prelude, silent=True)
            await kernel.execute(listing, lambda kind, content: texts.append(content.get("text", "")))
        finally:
            await kernel.kill()
        return set("".join(texts).split())

    async def both() -> tuple[set[str], set[str]]:
        forked = await ManagedKernel.start(str(queue.path), home, forker=forker)
        fresh = await ManagedKernel.start(str(queue.path), home)
        return await modules(forked), await modules(fresh)

    try:
        forked, fresh = asyncio.run(both())
    finally:
        forker.close()
        home.release(stopped=True)
    assert forked and fresh
    assert forked - fresh <= ZYGOTES_OWN, sorted(forked - fresh - ZYGOTES_OWN)


@pytest.mark.parametrize("ended_by", ["SIGKILL", "SIGTERM"])
def test_no_kernel_or_zygote_outlives_its_worker(queue: jobmagics.Queue, start_worker, ended_by: str) -> None:
    worker = start_worker("--slots", "2")
    assert queue.submit(code="print('warm')").wait(120).state is State.COMPLETED
    zygote = kernel_zygote_of(worker)
    kernels = wait_for(lambda: zygote.children(), timeout=60)     # the spares forked ahead
    processes = [zygote, *kernels]
    if ended_by == "SIGKILL":
        worker.kill()
    else:
        assert worker.stop(signal.SIGTERM) == 0
    gone = lambda: all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE  # noqa: E731
                       for p in processes)
    wait_for(gone, timeout=30)


def test_pushed_and_pulled_variables_of_any_size_reach_the_kernel_and_come_back(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    """Small ones travel in the worker's calls and the kernel's reply; big ones through the
    queue, which the kernel then opens itself."""
    for size in (10, 300_000, 1_500_000):
        job = queue.submit(code="y = x + b'!'", push={"x": b"x" * size}, options={"pull": ["y"]})
        assert job.result(120) == {"y": b"x" * size + b"!"}, size


def test_the_exception_of_a_failing_cell_comes_back_with_its_job(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    job = queue.submit(code="{}['missing']")
    with pytest.raises(jobmagics.JobFailed) as failed:
        job.result(120)
    assert isinstance(failed.value.__cause__, KeyError)
    assert job.refresh().error == "KeyError: 'missing'"
