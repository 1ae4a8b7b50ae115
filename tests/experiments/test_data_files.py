"""The HDF5 writer and reader on their own, and data that outlive a killed run."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import jobmagics
from jobmagics.data import DataWriter, load
from jobmagics.errors import InvalidJob
from tests.conftest import wait_for


def test_points_appended_one_by_one_and_in_chunks_read_back_in_order(tmp_path: Path):
    with DataWriter(tmp_path / "run.h5", attrs={"experiment": "demo", "config": {"reps": 3}}) as data:
        data.set_units(delay="s")
        data.append(delay=0.0, trace=np.arange(4.0))
        data.extend(delay=np.array([1.0, 2.0]), trace=np.ones((2, 4)))
        data.close(summary={"best": 1.5})
    read = load(tmp_path / "run.h5")
    assert read.points == 3 and read["delay"].tolist() == [0.0, 1.0, 2.0]
    assert read["trace"].shape == (3, 4)
    assert read.attrs["config"] == {"reps": 3} and read.summary == {"best": 1.5}
    assert read.units == {"delay": "s"} and read.complete and read.status == "completed"


def test_a_plot_of_the_first_points_spans_the_planned_sweep(tmp_path: Path):
    from matplotlib.figure import Figure
    with DataWriter(tmp_path / "run.h5") as data:
        data.set_plot("delay", "signal", x_range=(10.0, 0.0))       # given either way round
        data.extend(delay=np.array([0.0, 1.0]), signal=np.array([3.0, 2.0]))
        read = load(tmp_path / "run.h5")                           # read while it runs
        assert read.attrs["plot_x_range"] == [0.0, 10.0]
        low, high = read.plot(ax=Figure().subplots()).get_xlim()
        assert low < 0.0 and high > 10.0 and high - low < 11.0     # the sweep, a small margin


def test_every_append_must_give_the_same_datasets(tmp_path: Path):
    with DataWriter(tmp_path / "run.h5") as data:
        data.append(x=1.0, y=2.0)
        with pytest.raises(InvalidJob, match="same datasets at every append"):
            data.append(x=1.0)


def test_a_run_without_points_still_leaves_a_file_that_says_so(tmp_path: Path):
    DataWriter(tmp_path / "empty.h5").close(status="failed")
    read = load(tmp_path / "empty.h5")
    assert read.points == 0 and read.status == "failed"


def test_loading_a_pending_job_gives_an_empty_unfinished_result(queue, start_worker):
    start_worker("--slots", "1", "--resource", "hardware")
    job = queue.submit(experiment="jobmagics.experiments:Rabi", hold=True)
    data = load(job.id)
    assert data.points == 0 and not data.complete
    job.cancel()
    with pytest.raises(InvalidJob, match="has no data"):
        load(job.id)


STUBBORN = """
    import signal, time
    from jobmagics.experiments import Experiment

    class Stubborn(Experiment):
        def run(self, station, data):
            signal.signal(signal.SIGTERM, signal.SIG_IGN)     # ignores cancel: only SIGKILL stops it,
            signal.signal(signal.SIGINT, signal.SIG_IGN)      # whether in a subprocess or a kernel
            for index in range(10_000):
                data.append(x=float(index))
                time.sleep(0.05)
"""


def test_the_points_of_a_run_killed_outright_stay_readable_and_it_is_marked_interrupted(
        queue, start_worker, experiment_folder):
    start_worker("--slots", "1", "--resource", "hardware", "--grace", "1")
    folder = experiment_folder("stubborn", STUBBORN)
    job = queue.submit(experiment="stubborn:Stubborn", cwd=folder)
    wait_for(lambda: load(job.id).points >= 3, timeout=60)
    job.cancel()
    assert job.wait(60).state is jobmagics.State.CANCELLED
    data = load(job.id)
    assert data.points >= 3 and data.status == "interrupted"
    assert data["x"].tolist() == [float(i) for i in range(data.points)]
