"""Experiment jobs end to end: real workers, real HDF5 files, real config snapshots."""
from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

import jobmagics
from jobmagics.configs import job_snapshot, save_config
from jobmagics.data import load
from jobmagics.errors import JobFailed
from jobmagics.experiments import run_experiment
from jobmagics.instruments import SimulatedStation
from tests.conftest import wait_for

RABI = "jobmagics.experiments:Rabi"


def test_a_rabi_experiment_completes_and_its_fit_finds_the_simulated_rabi_frequency(queue, worker):
    job = queue.submit(experiment=RABI, config={"amplitude": 0.4, "seed": 5}).wait(60)
    assert job.state is jobmagics.State.COMPLETED, job.log()
    data = load(job.id)
    assert set(data.keys()) == {"length", "i", "q", "amplitude", "phase"}
    assert data.points == 81 and data.complete and data.status == "completed"
    assert np.all(np.diff(data["length"]) > 0)
    assert data.units["length"] == "s"
    simulated = 0.4 * data.snapshot["station"]["parameters"]["rabi_frequency_at_full_amplitude"]
    assert job.result()["rabi_frequency"] == pytest.approx(simulated, rel=0.03)
    assert data.summary == job.result()


def test_the_data_file_is_named_by_job_id_in_the_queue_data_folder(queue, worker):
    job = queue.submit(experiment="jobmagics.experiments:T1", config={"points": 11}).wait(60)
    assert job.data_path == queue.path / "data" / f"{job.id}.h5"
    assert job.data_path.exists()
    assert load(job.data_path).job_id == job.id        # a path works as well as an id


def test_the_config_snapshot_holds_exactly_what_ran(queue, worker):
    submitted = {"amplitude": 0.25, "points": 21, "seed": 9}
    job = queue.submit(experiment=RABI, config=submitted, name="rabi-snapshot").wait(60)
    snapshot = job_snapshot(job.id)
    assert (queue.path / "configs" / f"{job.id}.json").exists()
    assert snapshot["submitted_config"] == submitted
    assert snapshot["config"] == {**jobmagics.experiments.Rabi.defaults, **submitted}
    assert snapshot["experiment"] == RABI and snapshot["job_id"] == job.id
    code = snapshot["code"]
    assert code["module"] == "jobmagics.experiments.builtin" and code["class"] == "Rabi"
    assert code["source_sha256"] == hashlib.sha256(Path(code["file"]).read_bytes()).hexdigest()
    assert snapshot["environment"]["jobmagics"] == jobmagics.__version__
    assert snapshot["submitted_by"] == queue.user and snapshot["run_on"]
    assert load(job.id).config == snapshot["config"]


def test_progress_reaches_one_and_the_stage_says_done(queue, worker):
    job = queue.submit(experiment=RABI, config={"points": 30}).wait(60)
    assert job.state is jobmagics.State.COMPLETED
    assert job.progress == 1.0 and job.stage == "done"


def test_data_can_be_read_while_the_experiment_is_still_running(queue, worker):
    # 60 points of 20000 shots: ~0.4 s a point with the default time scale
    job = queue.submit(experiment="jobmagics.experiments:T1", config={"points": 60, "reps": 20000, "chunk": 2})
    partial = wait_for(lambda: (d := load(job.id)).points >= 4 and d, timeout=60)
    assert job.refresh().state is jobmagics.State.RUNNING
    assert not partial.complete and partial.status == "running"
    assert 4 <= partial.points < 60
    assert partial.config["reps"] == 20000                 # the snapshot is there from the start
    assert 0 < job.progress < 1
    job.cancel()
    job.wait(30)
    final = load(job.id)
    assert final.status == "stopped" and final.points >= partial.points
    assert np.array_equal(final["delay"][:partial.points], partial["delay"])


def test_two_experiments_never_overlap_on_the_station_with_two_workers(queue, start_worker):
    start_worker("--slots", "3", "--resource", "hardware")
    start_worker("--slots", "3", "--resource", "hardware")
    jobs = [queue.submit(experiment=RABI, config={"points": 20, "reps": 2000}) for _ in range(6)]
    for job in jobs:
        assert job.wait(120).state is jobmagics.State.COMPLETED, job.log()
    spans = sorted((load(j).attrs["run_started_at"], load(j).attrs["run_finished_at"]) for j in jobs)
    for (_, previous_end), (next_start, _) in itertools.pairwise(spans):
        assert next_start >= previous_end
    assert len({j.refresh().worker for j in jobs}) >= 1


def test_the_station_guard_catches_two_jobs_let_through_by_a_misconfigured_capacity(queue, start_worker):
    start_worker("--slots", "2", "--resource", "hardware=2")   # wrong: the station is exclusive
    jobs = [queue.submit(experiment=RABI, config={"points": 20, "reps": 150000}) for _ in range(2)]  # ~6 s each: they overlap
    for job in jobs:
        job.wait(120)
    states = sorted(j.state.value for j in jobs)
    assert states == ["completed", "failed"]
    failed = next(j for j in jobs if j.state is jobmagics.State.FAILED)
    assert "station 'sim-qubit' is in use by JOB-" in failed.error


@pytest.mark.parametrize("target, config, message", [
    ("jobmagics.experiments:Rabbi", {}, "module jobmagics.experiments has no class Rabbi"),
    ("jobmagics.data:ExperimentData", {}, "has no run(station, data) method"),
    (RABI, {"amplitude": "high"}, "bad config for Rabi: 'amplitude' must be a number, not 'high'"),
])
def test_a_bad_experiment_fails_the_job_with_one_clear_error(queue, worker, unchecked_at_submit, target,
                                                            config, message):
    job = queue.submit(experiment=target, config=config).wait(60)
    assert job.state is jobmagics.State.FAILED
    assert message in job.error
    assert "Traceback" not in job.log()
    assert not job.data_path.exists()          # refused before the station was touched


def test_a_module_missing_where_it_is_submitted_is_queued_and_its_event_says_it_was_not_checked(queue):
    job = queue.submit(experiment="no_such_lab_module:Rabi")
    assert "not checked at submit: no module named 'no_such_lab_module'" in job.events()[0]["detail"]


def test_a_module_gone_by_the_time_the_job_runs_fails_it_with_one_clear_error(queue, worker, experiment_folder):
    folder = experiment_folder("vanishing_lab", "from jobmagics.experiments import Rabi as Sweep\n")
    job = queue.submit(experiment="vanishing_lab:Sweep", cwd=folder, hold=True)
    (folder / "vanishing_lab.py").unlink()
    job.release()
    assert job.wait(60).state is jobmagics.State.FAILED
    assert "cannot import module vanishing_lab: ModuleNotFoundError" in job.error
    assert "Traceback" not in job.log()


def test_a_module_that_fails_to_import_shows_its_own_error(queue, worker, experiment_folder):
    folder = experiment_folder("broken_lab", "raise RuntimeError('calibration file missing')\n")
    job = queue.submit(experiment="broken_lab:Anything", cwd=folder).wait(60)
    assert job.state is jobmagics.State.FAILED
    assert "cannot import module broken_lab: RuntimeError: calibration file missing" in job.error


USER_EXPERIMENT = """
    import jobmagics
    from jobmagics.experiments import Experiment

    class Sweep(Experiment):
        defaults = {"points": 5, "fail_after": -1}

        def run(self, station, data):
            for index in range(self.config["points"]):
                if index == self.config["fail_after"]:
                    raise ValueError(f"amplifier saturated at point {index}")
                iq = station.relaxation([index * 1e-6], reps=100)
                data.append(delay=index * 1e-6, signal=abs(iq[0]))
                jobmagics.progress((index + 1) / self.config["points"], stage=f"point {index}")
            return {"points": self.config["points"]}
"""


def test_a_users_own_experiment_runs_from_their_folder_and_its_git_commit_is_recorded(
        queue, worker, experiment_folder, git):
    folder = experiment_folder("mylab", USER_EXPERIMENT)
    git(folder, "init", "-q")
    git(folder, "add", "mylab.py")
    git(folder, "commit", "-q", "-m", "sweep")
    head = git(folder, "rev-parse", "HEAD")
    job = queue.submit(experiment="mylab:Sweep", config={"points": 7}, cwd=folder).wait(60)
    assert job.state is jobmagics.State.COMPLETED, job.log()
    assert job.result() == {"points": 7}
    code = job_snapshot(job.id)["code"]
    assert code["git"]["commit"] == head and code["git"]["file_modified"] is False
    assert "class Sweep(Experiment)" in code["source"]
    assert load(job.id)["signal"].shape == (7,)


def test_an_experiment_that_raises_fails_with_its_exception_and_keeps_the_points_so_far(
        queue, worker, experiment_folder):
    folder = experiment_folder("mylab", USER_EXPERIMENT)
    job = queue.submit(experiment="mylab:Sweep", config={"fail_after": 3}, cwd=folder).wait(60)
    assert job.state is jobmagics.State.FAILED
    assert "ValueError: amplifier saturated at point 3" in job.error
    data = load(job.id)
    assert data.points == 3 and data.status == "failed"
    with pytest.raises(JobFailed) as caught:
        job.result()
    assert isinstance(caught.value.__cause__, ValueError)


def test_the_station_config_version_in_use_is_recorded_and_shapes_the_data(queue, worker):
    save_config("station", {"parameters": {"qubit_frequency": 5.2e9}, "seed": 4})
    version = save_config("station", {"parameters": {"qubit_frequency": 5.25e9}, "seed": 4})
    job = queue.submit(experiment="jobmagics.experiments:QubitSpectroscopy",
                       config={"start": 5.2e9, "stop": 5.3e9, "points": 101}).wait(60)
    assert job.state is jobmagics.State.COMPLETED, job.log()
    assert job.result()["qubit_frequency"] == pytest.approx(5.25e9, abs=0.5e6)
    origin = job_snapshot(job.id)["station_origin"]
    assert origin["config"] == "station" and origin["version"] == version


def test_the_snapshot_file_is_plain_json_readable_without_jobmagics(queue, worker):
    job = queue.submit(experiment="jobmagics.experiments:Ramsey", config={"points": 21}).wait(60)
    text = (queue.path / "configs" / f"{job.id}.json").read_text()
    assert json.loads(text)["config"]["points"] == 21


def test_run_experiment_uses_a_live_station_it_is_given_and_leaves_it_connected(queue, start_worker, tmp_path):
    # what a persistent-kernel executor does with the station its --startup file connected
    start_worker("--slots", "1", "--resource", "hardware")
    job = queue.submit(experiment="jobmagics.experiments:T1", config={"points": 11, "seed": 1}, hold=True)
    with SimulatedStation("kernel-station", time_scale=0.0, lock_path=tmp_path / "k.lock") as station:
        summary = run_experiment(job.id, queue.path, station=station)
        assert station.connected
    assert load(job.id).points == 11 and summary["t1"] > 0
    snapshot = job_snapshot(job.id)
    assert snapshot["station"]["name"] == "kernel-station"
    assert snapshot["station_origin"] == {"provided_by": "worker kernel"}
    assert queue.store.result(job.id) is not None
