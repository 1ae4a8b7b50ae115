"""Experiment jobs in the persistent kernel of ``hardware``: they reuse the station the
worker's ``--startup`` file connected, and cancel, failure and plain (no startup) runs still
behave as they do in a subprocess. Real workers, real kernels, real data files."""
from __future__ import annotations

import json
from pathlib import Path

import jobmagics
from jobmagics.configs import job_snapshot
from jobmagics.data import load
from tests.conftest import wait_for

STARTUP = """\
import pathlib
from jobmagics.instruments import connect_station

pathlib.Path({marker!r}).open("a").write("connected\\n")
station = connect_station()
"""

LAB = """
    import os
    import time

    import jobmagics
    from jobmagics.experiments import Experiment

    class WhichStation(Experiment):
        defaults = {"points": 3, "reps": 100, "plot": False}

        def run(self, station, data):
            for index in range(self.config["points"]):
                iq = station.relaxation([index * 1e-6], reps=self.config["reps"])
                data.append(delay=index * 1e-6, signal=abs(iq[0]))
                print(f"point {index}", flush=True)
            if self.config["plot"]:
                import matplotlib.pyplot as plt
                plt.plot([0, 1, 2], [0, 1, 4])
                plt.show()
            return {"station_id": id(station), "connected_at": station.connected_at,
                    "pid": os.getpid(), "connected": station.connected}

    class Broken(Experiment):
        def run(self, station, data):
            data.append(x=1.0)
            raise ValueError("amplifier saturated")
"""

STATION_QUESTION = ("import os\n"
                    "print(id(station), station.connected_at, os.getpid(), station.connected)\n")


def _startup(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "connections.txt"
    path = tmp_path / "connect_station.py"
    path.write_text(STARTUP.format(marker=str(marker)))
    return path, marker


def _completed(job: jobmagics.Job, timeout: float = 120) -> dict:
    """The job's result, once it completed."""
    assert job.wait(timeout).state is jobmagics.State.COMPLETED, (job.error, job.log())
    return job.result()


def _printed(job: jobmagics.Job, timeout: float = 120) -> list[str]:
    """The words a completed python job printed."""
    _completed(job, timeout)
    return job.log().split()


def test_consecutive_experiments_and_a_python_job_share_the_station_the_startup_file_connected(
        queue, start_worker, tmp_path, experiment_folder):
    startup, marker = _startup(tmp_path)
    start_worker("--slots", "2", "--resource", "hardware", "--startup", str(startup))
    folder = experiment_folder("lab", LAB)
    first = queue.submit(experiment="lab:WhichStation", cwd=folder)
    between = queue.submit(code=STATION_QUESTION, resources=["hardware"], after=[first])
    second = queue.submit(experiment="lab:WhichStation", cwd=folder, after=[between])
    one, two = _completed(first), _completed(second)
    station_id, connected_at, pid, connected = _printed(between)
    assert one["station_id"] == two["station_id"] == int(station_id)
    assert one["connected_at"] == two["connected_at"] == float(connected_at)
    assert one["pid"] == two["pid"] == int(pid), "all three ran in the one persistent kernel"
    assert one["connected"] and two["connected"] and connected == "True", "left connected for the next job"
    assert marker.read_text() == "connected\n", "the station was connected once, by the startup file"
    assert job_snapshot(first.id)["station_origin"] == {"provided_by": "worker kernel"}


def test_an_experiment_in_the_kernel_keeps_its_summary_as_result_and_its_outputs_and_progress(
        queue, start_worker, tmp_path, experiment_folder):
    startup, _ = _startup(tmp_path)
    start_worker("--resource", "hardware", "--startup", str(startup))
    folder = experiment_folder("lab", LAB)
    job = queue.submit(experiment="lab:WhichStation", config={"points": 4, "plot": True}, cwd=folder)
    summary = _completed(job)
    assert set(summary) == {"station_id", "connected_at", "pid", "connected"}
    assert load(job.id).summary == summary and load(job.id).points == 4
    assert job.log().startswith("point 0\npoint 1\npoint 2\npoint 3\n")
    outputs = [json.loads(line) for line in job.outputs_path.read_text().splitlines()]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the plot was captured"
    assert job.progress == 1.0 and job.stage == "done"
    notebook = json.loads(queue.layout.notebook(job.id).read_text())
    assert "run_experiment(" in notebook["cells"][0]["source"]


def test_a_cancelled_experiment_stops_its_data_file_and_the_next_one_reuses_the_station(
        queue, start_worker, tmp_path, experiment_folder):
    startup, marker = _startup(tmp_path)
    start_worker("--resource", "hardware", "--startup", str(startup))
    folder = experiment_folder("lab", LAB)
    long_run = queue.submit(experiment="lab:WhichStation", config={"points": 10_000, "reps": 20_000},
                            cwd=folder)
    wait_for(lambda: load(long_run.id).points >= 2, timeout=120)
    long_run.cancel()
    assert long_run.wait(60).state is jobmagics.State.CANCELLED
    assert load(long_run.id).status == "stopped"
    assert "experiment stopped before the end (interrupted); data so far kept" in long_run.log()
    after = queue.submit(experiment="lab:WhichStation", cwd=folder)
    assert _completed(after)["connected"]
    assert marker.read_text() == "connected\n", "the interrupt kept the kernel and its connection"


def test_an_experiment_that_times_out_in_the_kernel_stops_its_data_file_and_keeps_the_station(
        queue, start_worker, tmp_path, experiment_folder):
    startup, marker = _startup(tmp_path)
    start_worker("--resource", "hardware", "--startup", str(startup))
    folder = experiment_folder("lab", LAB)
    before = _completed(queue.submit(experiment="lab:WhichStation", cwd=folder))  # the kernel is ready
    endless = queue.submit(experiment="lab:WhichStation", config={"points": 10_000, "reps": 20_000},
                           cwd=folder, timeout=5)
    assert endless.wait(120).state is jobmagics.State.TIMEOUT
    assert load(endless.id).status == "stopped"
    after = _completed(queue.submit(experiment="lab:WhichStation", cwd=folder))
    assert after["station_id"] == before["station_id"] and after["connected"]
    assert marker.read_text() == "connected\n"


def test_a_failing_experiment_in_the_kernel_fails_with_its_error_line_and_the_station_serves_on(
        queue, start_worker, tmp_path, experiment_folder, unchecked_at_submit):
    startup, _ = _startup(tmp_path)
    start_worker("--resource", "hardware", "--startup", str(startup))
    folder = experiment_folder("lab", LAB)
    broken = queue.submit(experiment="lab:Broken", cwd=folder)
    assert broken.wait(120).state is jobmagics.State.FAILED
    assert "ValueError: amplifier saturated" in broken.error
    assert load(broken.id).status == "failed"
    bad_config = queue.submit(experiment="lab:WhichStation", config={"points": "many"}, cwd=folder)
    assert bad_config.wait(120).state is jobmagics.State.FAILED
    assert "bad config for WhichStation: 'points' must be a whole number" in bad_config.error
    assert "Traceback" not in bad_config.log()
    assert _completed(queue.submit(experiment="lab:WhichStation", cwd=folder))["connected"]


def test_without_a_startup_file_experiments_run_in_the_kernel_and_close_the_station_they_opened(
        queue, start_worker, experiment_folder):
    start_worker("--resource", "hardware")
    folder = experiment_folder("lab", LAB)
    first = queue.submit(experiment="lab:WhichStation", cwd=folder)
    which = queue.submit(code="import os\nprint(os.getpid(), 'station' in globals())",
                         resources=["hardware"], after=[first])
    second = queue.submit(experiment="lab:WhichStation", cwd=folder, after=[which])
    one, two = _completed(first), _completed(second)
    kernel_pid, has_station = _printed(which)
    assert one["pid"] == two["pid"] == int(kernel_pid), "both ran in the persistent kernel"
    assert has_station == "False", "the experiment left no station behind in the kernel"
    assert one["connected_at"] != two["connected_at"], "each connected, and closed, its own"
    assert job_snapshot(first.id)["station_origin"].get("simulated") is True


def test_a_worker_without_kernels_still_runs_experiments_in_their_own_processes(
        queue, start_worker, experiment_folder):
    start_worker("--resource", "hardware", "--no-kernel")
    folder = experiment_folder("lab", LAB)
    first = queue.submit(experiment="lab:WhichStation", cwd=folder)
    second = queue.submit(experiment="lab:WhichStation", cwd=folder, after=[first])
    assert _completed(first)["pid"] != _completed(second)["pid"]
