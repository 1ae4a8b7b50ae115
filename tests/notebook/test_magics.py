"""The %job / %%job magics, driven through a real IPython kernel like a notebook does."""
from __future__ import annotations

import json
import os
import signal

import nbformat
import psutil

from jobmagics import Queue, State
from jobmagics.outputs import job_outputs
from tests.conftest import wait_for

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def submitted(kernel, queue: Queue):  # type: ignore[no-untyped-def]
    return queue.get(kernel.value("_job.id"))


def test_a_submitted_cell_returns_at_once_and_the_job_completes_with_its_outputs_captured(kernel, queue, worker):
    cell = kernel.run("%%job submit --name hello\nimport time\ntime.sleep(3)\nprint('hello from the job')\n21 * 2")
    assert cell.error is None
    assert cell.data(WIDGET_VIEW), "the cell's value shows as the live job widget"
    job = submitted(kernel, queue)
    assert not job.done, "the cell returned without waiting for the job"
    assert job.name == "hello"
    assert job.wait(120).state is State.COMPLETED
    assert "hello from the job" in job.log()
    outputs = job_outputs(job)
    assert outputs[0] == {"output_type": "stream", "name": "stdout", "text": "hello from the job\n"}
    assert outputs[1]["output_type"] == "execute_result" and outputs[1]["data"]["text/plain"] == "42"


def test_the_job_is_also_kept_in_the_variable_named_by_out(kernel, queue, worker):
    cell = kernel.run("%%job submit --out fit_job\nx = 1")
    assert cell.error is None
    assert kernel.value("fit_job.id") == kernel.value("_job.id")


def test_push_and_pull_round_trip_numpy_arrays(kernel, queue, worker):
    kernel.run("import numpy as np\nsamples = np.arange(12.0).reshape(3, 4)\nscale = 2")
    cell = kernel.run("%%job submit --push samples,scale --pull doubled,total --wait\n"
                      "doubled = samples * scale\ntotal = float(doubled.sum())")
    assert cell.error is None, cell.error
    assert "pulled doubled, total" in cell.stdout
    assert kernel.value("doubled.tolist()") == [[0.0, 2.0, 4.0, 6.0], [8.0, 10.0, 12.0, 14.0], [16.0, 18.0, 20.0, 22.0]]
    assert kernel.value("type(doubled).__name__") == "ndarray"
    assert kernel.value("total") == 132.0
    assert sorted(submitted(kernel, queue).result()) == ["doubled", "total"]


def test_job_pull_brings_variables_back_after_the_job_completed(kernel, queue, worker):
    kernel.run("%%job submit --pull answer\nanswer = 6 * 7")
    submitted(kernel, queue).wait(120)
    assert kernel.value("'answer' in globals()") is False
    cell = kernel.run("%job pull")
    assert cell.error is None and "pulled answer" in cell.stdout
    assert kernel.value("answer") == 42


def test_a_variable_that_cannot_be_pushed_is_named_in_the_error(kernel, queue):
    kernel.run("import threading\nlock = threading.Lock()")
    cell = kernel.run("%%job submit --push lock\nprint(lock)")
    assert cell.error["ename"] == "UsageError"
    assert "cannot push 'lock'" in cell.error["evalue"]
    assert queue.count() == 0, "nothing is submitted"


def test_a_user_mistake_shows_one_line_without_a_traceback(kernel):
    cell = kernel.run("%job status JOB-bad")
    assert cell.error["ename"] == "UsageError"
    assert "is not a job id" in cell.error["evalue"]
    assert cell.error["traceback"] == []
    assert cell.stderr.strip().splitlines() == [f"UsageError: {cell.error['evalue']}"]


def test_an_image_displayed_in_a_job_reaches_its_outputs_file_and_job_output(kernel, queue, worker):
    cell = kernel.run("%%job submit --wait\nimport matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()")
    assert cell.error is None, cell.error
    job = submitted(kernel, queue)
    lines = [json.loads(line) for line in job.outputs_path.read_text().splitlines()]
    assert any("image/png" in line.get("data", {}) for line in lines)
    notebook = nbformat.read(str(queue.layout.notebook(job.id)), as_version=4)
    assert notebook.cells[0].source.startswith("import matplotlib")
    assert any("image/png" in o.get("data", {}) for o in notebook.cells[0].outputs)
    shown = kernel.run(f"%job output {job.id}")
    assert shown.error is None
    assert shown.data("image/png"), "%job output re-displays the image here"


def test_a_command_job_from_the_line_magic_and_its_logs(kernel, queue, worker):
    cell = kernel.run("%job submit --name greet --wait -- echo hello there")
    assert cell.error is None, cell.error
    job = submitted(kernel, queue)
    assert job.record.command == ["echo", "hello", "there"] and job.state is State.COMPLETED
    assert kernel.run("%job logs").stdout == "hello there\n"
    assert "hello there" in kernel.run(f"%job output {job.id}").stdout


def test_cancel_of_a_running_kernel_job(kernel, queue, worker):
    kernel.run("%%job submit --name forever\nimport time\nprint('looping', flush=True)\nwhile True:\n"
               "    time.sleep(0.05)")
    job = submitted(kernel, queue)
    wait_for(lambda: "looping" in job.log(), timeout=60)
    cell = kernel.run("%job cancel")
    assert cell.error is None and "cancel requested" in cell.stdout
    assert job.wait(60).state is State.CANCELLED


def test_status_history_wait_and_retry(kernel, queue, worker):
    kernel.run("%%job submit --name broken\n1 / 0")
    job = submitted(kernel, queue)
    cell = kernel.run("%job wait")
    assert cell.error["ename"] == "UsageError"
    assert "ZeroDivisionError: division by zero" in cell.error["evalue"]
    status = kernel.run(f"%job status {job.id}")
    assert any("failed" in html for html in status.data("text/html"))
    history = kernel.run("%job history --state failed")
    assert any(job.id in html for html in history.data("text/html"))
    retried = kernel.run(f"%job retry {job.id}")
    assert retried.error is None
    assert job.wait(120).attempt == 2


def test_a_worker_started_from_the_notebook_runs_jobs_and_stops_with_the_kernel(kernel, queue):
    cell = kernel.run("%job worker start --slots 1")
    assert cell.error is None, cell.error
    pid = int(cell.stdout.split()[1])
    kernel.run("%job submit --wait -- true")
    assert submitted(kernel, queue).state is State.COMPLETED
    assert any(w["pid"] == pid for w in queue.workers())
    assert "this kernel" in "".join(kernel.run("%job worker status").data("text/html"))
    os.kill(kernel.manager.provisioner.pid, signal.SIGKILL)      # the kernel dies without cleaning up
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
             timeout=60)


def test_the_kernels_worker_serves_only_its_accounts_jobs_unless_started_with_serve_group(kernel, queue):
    cell = kernel.run("%job worker start --slots 1")
    assert "runs your jobs" in cell.stdout, cell.stdout
    serving = {w["pid"]: w["only_user"] for w in queue.workers()}
    assert serving[int(cell.stdout.split()[1])] == queue.user
    kernel.run("%job worker stop")
    cell = kernel.run("%job worker start --slots 1 --serve-group")
    assert "runs every group member's jobs (they run as you)" in cell.stdout, cell.stdout
    serving = {w["pid"]: w["only_user"] for w in queue.workers()}
    assert serving[int(cell.stdout.split()[1])] is None


def test_worker_stop_stops_the_kernels_worker(kernel, queue):
    pid = int(kernel.run("%job worker start --slots 1").stdout.split()[1])
    cell = kernel.run("%job worker stop")
    assert f"stopped worker {pid}" in cell.stdout
    assert not any(w["pid"] == pid for w in queue.workers())


def test_submitting_with_no_worker_says_how_to_start_one(kernel, queue):
    cell = kernel.run("%%job submit\nx = 1")
    assert cell.error is None
    assert "no worker serves" in cell.stderr and "%job worker start" in cell.stderr
    assert submitted(kernel, queue).state is State.PENDING


def test_the_kernels_worker_stops_when_the_kernel_shuts_down_cleanly(kernel, queue):
    pid = int(kernel.run("%job worker start --slots 1").stdout.split()[1])
    kernel.manager.shutdown_kernel(now=False)
    wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
             timeout=60)
    assert not any(w["pid"] == pid for w in queue.workers()), "it deregistered: a clean stop"
