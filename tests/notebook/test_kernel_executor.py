"""Python jobs in Jupyter kernels: outputs, failures, persistent kernels, cancel, timeout."""
from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from jobmagics import JobFailed, Queue, State
from jobmagics.outputs import job_outputs
from tests.conftest import wait_for

STARTUP = """\
import pathlib
pathlib.Path({marker!r}).open("a").write("prepared\\n")
station = {{"connection": object()}}
print("station connected")
"""


def startup_file(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "startups.txt"
    path = tmp_path / "station_startup.py"
    path.write_text(STARTUP.format(marker=str(marker)))
    return path, marker


def test_a_python_job_runs_in_a_kernel_with_outputs_saved_live_and_as_a_notebook(queue, worker):
    job = queue.submit(code="import sys\nprint('out')\nprint('err', file=sys.stderr)\n"
                            "from IPython.display import display, HTML\ndisplay(HTML('<b>rich</b>'))\n'done'")
    assert job.wait(120).state is State.COMPLETED
    kinds = [json.loads(line)["output_type"] for line in job.outputs_path.read_text().splitlines()]
    assert kinds == ["stream", "stream", "display_data", "execute_result"]
    notebook = nbformat.read(str(queue.layout.notebook(job.id)), as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["jobmagics"]["job_id"] == job.id
    assert [o["output_type"] for o in notebook.cells[0].outputs] == kinds
    assert job.log() == "out\nerr\n'done'\n"


def test_a_failing_job_records_its_exception_line_and_traceback(queue, worker):
    job = queue.submit(code="def inner():\n    return 1 / 0\ninner()")
    assert job.wait(120).state is State.FAILED
    assert job.error == "ZeroDivisionError: division by zero"
    assert "Traceback" in job.log() and "inner()" in job.log()
    assert job_outputs(job)[-1]["ename"] == "ZeroDivisionError"


def test_batch_python_jobs_each_get_a_fresh_kernel(queue, worker):
    first = queue.submit(code="leftover = 1")
    second = queue.submit(code="print('leftover' in globals())", after=[first])
    assert second.wait(120).state is State.COMPLETED
    assert second.log() == "False\n"


def test_progress_reported_in_a_kernel_job_reaches_the_queue(queue, worker):
    job = queue.submit(code="import jobmagics, time\njobmagics.progress(0.25, stage='warming up')\n"
                            "time.sleep(30)")
    wait_for(lambda: job.refresh().progress == 0.25, timeout=60)
    assert job.stage == "warming up"
    job.cancel()
    assert job.wait(60).state is State.CANCELLED


def test_the_log_can_be_read_while_the_job_runs(queue, worker):
    job = queue.submit(code="import time\nprint('started', flush=True)\ntime.sleep(30)")
    wait_for(lambda: "started" in job.log(), timeout=60)
    assert job.state is State.RUNNING
    job.cancel()
    job.wait(60)


def test_persistent_kernel_state_survives_across_two_jobs_on_the_same_resource(queue, start_worker, tmp_path):
    startup, marker = startup_file(tmp_path)
    start_worker("--slots", "2", "--resource", "hardware", "--startup", str(startup))
    first = queue.submit(code="handle = id(station['connection'])\ncounter = 1", resources=["hardware"])
    second = queue.submit(code="counter += 1\nprint(counter, handle == id(station['connection']))",
                          resources=["hardware"], after=[first])
    assert second.wait(120).state is State.COMPLETED, second.error
    assert second.log().endswith("2 True\n")
    assert marker.read_text() == "prepared\n", "the startup file ran once"


def test_the_persistent_kernel_is_restarted_and_prepared_again_after_a_crash(queue, start_worker, tmp_path):
    startup, marker = startup_file(tmp_path)
    start_worker("--slots", "2", "--resource", "hardware", "--startup", str(startup))
    setup = queue.submit(code="counter = 1", resources=["hardware"])
    crash = queue.submit(code="import os\nos._exit(1)", resources=["hardware"], after=[setup])
    assert crash.wait(120).state is State.FAILED
    assert "the Jupyter kernel died" in crash.error
    after = queue.submit(code="print('counter' in globals(), 'station' in globals())", resources=["hardware"])
    assert after.wait(120).state is State.COMPLETED, after.error
    assert after.log().endswith("False True\n")
    assert marker.read_text() == "prepared\nprepared\n"


def test_a_failing_startup_file_fails_the_job_with_a_clear_error(queue, start_worker, tmp_path):
    startup = tmp_path / "broken.py"
    startup.write_text("raise RuntimeError('station unplugged')\n")
    start_worker("--resource", "hardware", "--startup", str(startup))
    job = queue.submit(code="print(1)", resources=["hardware"])
    assert job.wait(120).state is State.FAILED
    assert "station unplugged" in job.error and "startup file" in job.error


def test_cancel_interrupts_a_running_kernel_job_and_the_kernel_serves_the_next(queue, start_worker):
    start_worker("--resource", "hardware")
    setup = queue.submit(code="kept = 'alive'", resources=["hardware"])
    setup.wait(120)
    job = queue.submit(code="import time\nprint('looping', flush=True)\nwhile True:\n    time.sleep(0.05)",
                       resources=["hardware"])
    wait_for(lambda: "looping" in job.log(), timeout=60)        # the code runs: cancel interrupts it
    job.cancel()
    assert job.wait(60).state is State.CANCELLED
    after = queue.submit(code="print(kept)", resources=["hardware"])
    assert after.wait(120).state is State.COMPLETED, (after.error, after.log())
    assert after.log().endswith("alive\n"), "an interrupt keeps the persistent kernel and its state"
    assert "KeyboardInterrupt" in job.log()


def test_a_job_that_ignores_the_interrupt_is_stopped_by_restarting_its_kernel(queue, start_worker):
    start_worker("--grace", "1")
    job = queue.submit(code="import time\nprint('looping', flush=True)\nwhile True:\n    try:\n"
                            "        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass")
    wait_for(lambda: "looping" in job.log(), timeout=60)
    job.cancel()
    assert job.wait(60).state is State.CANCELLED


def test_a_kernel_job_that_runs_too_long_times_out(queue, worker):
    job = queue.submit(code="import time\ntime.sleep(60)", timeout=1.5)
    assert job.wait(90).state is State.TIMEOUT


def test_pushed_variables_and_pulled_results_through_the_api(queue: Queue, worker):
    job = queue.submit(code="y = [v * 2 for v in x]", push={"x": [1, 2, 3]}, options={"pull": ["y"]})
    assert job.result(timeout=120) == {"y": [2, 4, 6]}
    missing = queue.submit(code="z = 1", options={"pull": ["nope"]})
    assert missing.wait(120).state is State.FAILED
    assert "cannot pull nope" in missing.error


@pytest.mark.parametrize("kernel", [True, False], ids=["kernel", "subprocess"])
def test_a_pulled_variable_that_cannot_be_pickled_fails_the_job_and_result_raises(queue: Queue, start_worker,
                                                                                  kernel: bool) -> None:
    """Before, the job completed and result() returned a RuntimeError object as the value."""
    start_worker(*([] if kernel else ["--no-kernel"]))
    job = queue.submit(code="import threading\nlock = threading.Lock()\nok = 1", options={"pull": ["ok", "lock"]})
    assert job.wait(120).state is State.FAILED
    assert "cannot pull 'lock': its value could not be pickled: TypeError" in job.error
    with pytest.raises(JobFailed, match="could not be pickled"):
        job.result()


def test_a_persistent_kernel_killed_after_the_grace_period_is_prepared_again(queue, start_worker, tmp_path):
    startup, marker = startup_file(tmp_path)
    start_worker("--grace", "1", "--resource", "hardware", "--startup", str(startup))
    stubborn = queue.submit(code="import time\nprint('looping', flush=True)\nwhile True:\n    try:\n"
                                 "        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass",
                            resources=["hardware"])
    wait_for(lambda: "looping" in stubborn.log(), timeout=60)      # its code runs: it must be killed
    stubborn.cancel()
    assert stubborn.wait(60).state is State.CANCELLED
    after = queue.submit(code="print('station' in globals())", resources=["hardware"])
    assert after.wait(120).state is State.COMPLETED, after.error
    assert after.log().endswith("True\n")
    assert marker.read_text() == "prepared\nprepared\n"


MARKS_AND_PID = ("import os, subprocess\n"
                 "print(os.environ['JOBMAGICS_JOB_ID'], os.environ['JOBMAGICS_ATTEMPT'], os.getpid())\n"
                 "print(subprocess.run(['sh', '-c', 'echo $JOBMAGICS_ATTEMPT'], capture_output=True, text=True).stdout)")


@pytest.mark.parametrize("resources", [[], ["hardware"]], ids=["fresh kernel", "persistent kernel"])
def test_a_kernel_job_records_its_kernel_and_marks_what_it_starts_with_its_attempt(queue, worker, resources):
    """A lost attempt is found by these (the recorded process, the marks in its children's
    environment), so a kernel job must have both, in a fresh kernel too."""
    job = queue.submit(code=MARKS_AND_PID, resources=resources)
    assert job.wait(120).state is State.COMPLETED, (job.error, job.log())
    job_id, attempt, kernel_pid = job.log().split()[:3]
    assert (job_id, attempt) == (job.id, "1")
    assert job.log().split()[3] == "1", "a child of the job did not inherit the attempt's mark"
    assert queue.store.pid_of(job.id)[0] == int(kernel_pid)
