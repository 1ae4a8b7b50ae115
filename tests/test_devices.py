"""Devices, not just counts: a worker's resource names its units (``gpu=0,1,2,3``, ``gpu=4``,
``qick=a,b``); a job asking ``gpu:2`` gets two free ones, in ``CUDA_VISIBLE_DEVICES`` and
``JOBMAGICS_RESOURCE_GPU``, recorded with its attempt and shown by ``status``."""
from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import jobmagics
from jobmagics.checks import parse_resource_request, parse_resource_units
from jobmagics.errors import InvalidJob
from jobmagics.model import JobSpec, State
from tests.conftest import WorkerProcess

# A command job that takes a kernel file lock per unit it was given (never waiting): a lock
# found taken means two live jobs were given the same unit. It keeps them a while.
HOLD_UNITS = r"""
import fcntl, os, sys, time
folder, seconds = sys.argv[1], float(sys.argv[2])
given = os.environ.get("CUDA_VISIBLE_DEVICES", "")
held = []
for unit in given.split(","):
    handle = open(os.path.join(folder, f"unit-{unit}.lock"), "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        with open(os.path.join(folder, "violations"), "a") as out:
            out.write(f"{os.environ['JOBMAGICS_JOB_ID']} unit {unit} taken\n")
        sys.exit(97)
    held.append(handle)
print("cuda", given, "resource", os.environ.get("JOBMAGICS_RESOURCE_GPU"))
time.sleep(seconds)
"""


def cli(queue_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobmagics", "--queue", str(queue_dir), *args],
                          capture_output=True, text=True, timeout=60, check=False)


def holder(tmp_path: Path, seconds: float) -> list[str]:
    script = tmp_path / "hold_units.py"
    if not script.exists():        # rewriting it under a job that reads it would empty it
        script.write_text(HOLD_UNITS)
    return [sys.executable, str(script), str(tmp_path), f"{seconds:g}"]


def test_jobs_asking_one_or_two_of_four_units_never_share_one(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], tmp_path: Path) -> None:
    start_worker("--slots", "8", "--resource", "gpu=0,1,2,3")
    jobs = [queue.submit(holder(tmp_path, 0.6), resources=[f"gpu:{1 + i % 2}"])
            for i in range(10)]
    for job in jobs:
        job.wait(60)
    assert not (tmp_path / "violations").exists()
    for i, job in enumerate(jobs):
        assert job.state is State.COMPLETED, (job.error, job.log())
        units = job.record.units["gpu"]
        assert len(units) == 1 + i % 2 and set(units) <= {"0", "1", "2", "3"}
        shown = ",".join(units)
        assert f"cuda {shown} resource {shown}" in job.log()


def test_a_count_declares_units_from_zero_and_names_reach_any_resource(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    start_worker("--slots", "4", "--resource", "gpu=2", "--resource", "qick=boardA,boardB")
    both = queue.submit(["sh", "-c", "echo $CUDA_VISIBLE_DEVICES $JOBMAGICS_RESOURCE_GPU"],
                        resources=["gpu:2"])
    board = queue.submit(["sh", "-c", "echo [$JOBMAGICS_RESOURCE_QICK] [$CUDA_VISIBLE_DEVICES]"],
                         resources=["qick"])
    assert both.wait(30).state is State.COMPLETED
    assert both.log().split() == ["0,1", "0,1"]
    assert board.wait(30).state is State.COMPLETED
    assert board.log().split() == ["[boardA]", "[]"]
    assert board.record.units == {"qick": ["boardA"]}


def test_python_and_function_jobs_see_their_units_too(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    start_worker("--slots", "4", "--resource", "gpu=0,1,2,3")

    def visible() -> str:
        import os
        return os.environ["CUDA_VISIBLE_DEVICES"]

    function_job = queue.submit(function=visible, resources=["gpu:2"])
    python_job = queue.submit(code="import os\nseen = os.environ['JOBMAGICS_RESOURCE_GPU']",
                              options={"pull": ["seen"]}, resources=["gpu:3"])
    held_by_function = function_job.result(timeout=60)
    assert held_by_function == ",".join(function_job.record.units["gpu"])
    assert python_job.result(timeout=60)["seen"] == ",".join(python_job.record.units["gpu"])
    assert len(python_job.record.units["gpu"]) == 3


def test_a_job_asking_more_units_than_any_worker_has_waits_and_status_says_why(
        queue_dir: Path, queue: jobmagics.Queue,
        start_worker: Callable[..., WorkerProcess]) -> None:
    start_worker("--slots", "4", "--resource", "gpu=4")
    too_big = queue.submit(["true"], resources=["gpu:6"])
    fits = queue.submit(["true"], resources=["gpu:4"])
    assert fits.wait(30).state is State.COMPLETED
    assert fits.record.units == {"gpu": ["0", "1", "2", "3"]}
    assert too_big.refresh().state is State.PENDING
    shown = cli(queue_dir, "status", too_big.id)
    assert shown.returncode == 0
    assert "asks for 6 units of gpu; the most any worker has is 4" in shown.stdout
    finished = cli(queue_dir, "status", fits.id)
    assert "gpu 0,1,2,3" in finished.stdout
    as_json = json.loads(cli(queue_dir, "status", fits.id, "--json").stdout)
    assert as_json["units"] == {"gpu": ["0", "1", "2", "3"]}
    assert as_json["resources"] == ["gpu:4"]


@pytest.mark.parametrize("spec", ["gpu:0", "gpu:x", "gpu:-1", "g pu:2"])
def test_a_bad_request_is_one_line_exit_2_and_queues_nothing(queue_dir: Path, spec: str,
                                                             queue: jobmagics.Queue) -> None:
    result = cli(queue_dir, "submit", "--resource", spec, "--", "true")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and spec.split(":")[0] in result.stderr
    assert queue.count() == 0


@pytest.mark.parametrize("spec", ["gpu=0,0", "gpu=0", "gpu=x", "gpu=1,,2"])
def test_a_bad_declaration_stops_the_worker_with_one_line_exit_2(queue_dir: Path, spec: str) -> None:
    result = cli(queue_dir, "worker", "--resource", spec)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and spec in result.stderr


def test_requests_are_stored_normalised_and_old_plain_names_still_read() -> None:
    assert parse_resource_units("gpu=3,") == ("gpu", ["3"])
    assert parse_resource_units("hardware") == ("hardware", ["0"])
    assert parse_resource_request("gpu") == ("gpu", 1)
    spec = JobSpec(kind="command", command=["true"], resources=["gpu:1", "qick:2", "gpu"])
    assert spec.validate().resources == ["gpu", "qick:2"]
    with pytest.raises(InvalidJob, match="asked for twice"):
        JobSpec(kind="command", command=["true"], resources=["gpu:1", "gpu:2"]).validate()


def test_workers_on_two_hosts_never_hold_more_units_than_the_resource_s_capacity(
        queue: jobmagics.Queue) -> None:
    """Units are a machine's devices, the capacity the queue's: two hosts declaring gpu=2
    each (registered here under two host names) share two GPU jobs, as DESIGN promises."""
    import time as clock

    from jobmagics.model import WorkerRecord
    from jobmagics.store import Capacity
    now = clock.time()
    for host in ("lab-a", "lab-b"):
        queue.store.register_worker(WorkerRecord(
            id=f"{host}:1:w", host=host, pid=1, pid_started=now, user=queue.user,
            started_at=now, heartbeat_at=now, slots=4, memory=1 << 40,
            resources={"gpu": 2}, only_user=None, state="running", units={"gpu": ["0", "1"]}))
    queue.submit_many([{"command": ["true"], "resources": ["gpu"]}] * 4)
    capacity = Capacity(slots=4, memory=1 << 40, resources={"gpu": 2},
                        units={"gpu": ["0", "1"]})
    first = queue.store.claim("lab-a:1:w", capacity, limit=4)
    second = queue.store.claim("lab-b:1:w", capacity, limit=4)
    assert [len(first), len(second)] == [2, 0]
    assert sorted(u for job in first for u in (job.units or {})["gpu"]) == ["0", "1"]
