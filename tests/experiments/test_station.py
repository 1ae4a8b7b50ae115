"""The simulated station on its own: plausible physics, and one user at a time."""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from jobmagics.data import DataWriter, load
from jobmagics.errors import InvalidJob
from jobmagics.experiments import T1, QubitSpectroscopy, Rabi, Ramsey, ResonatorSpectroscopy
from jobmagics.instruments import SimulatedStation


@pytest.fixture
def station(tmp_path: Path):
    with SimulatedStation(seed=7, time_scale=0.0, lock_path=tmp_path / "station.lock") as connected:
        yield connected


def run_locally(cls, config, station, path: Path) -> dict:
    experiment = cls(config)
    experiment.setup(station)
    with DataWriter(path) as data:
        summary = experiment.run(station, data)
        data.close(summary=summary)
    return summary


@pytest.mark.parametrize("cls, key, truth, tolerance", [
    (ResonatorSpectroscopy, "resonator_frequency", "resonator_frequency", 0.2e6),
    (QubitSpectroscopy, "qubit_frequency", "qubit_frequency", 0.3e6),
    (T1, "t1", "t1", 0.15),
    (Ramsey, "t2_star", "t2_star", 0.25),
])
def test_each_builtin_experiment_recovers_the_simulated_device_parameter(cls, key, truth, tolerance, station, tmp_path):
    summary = run_locally(cls, {"seed": 1}, station, tmp_path / "run.h5")
    expected = getattr(station.parameters, truth)
    error = abs(summary[key] - expected)
    assert error <= (tolerance * expected if tolerance < 1 else tolerance), (summary, expected)


def test_the_rabi_frequency_scales_with_the_drive_amplitude(station, tmp_path):
    for amplitude in (0.3, 0.6):
        summary = run_locally(Rabi, {"amplitude": amplitude, "seed": 2}, station, tmp_path / f"{amplitude}.h5")
        expected = amplitude * station.parameters.rabi_frequency_at_full_amplitude
        assert summary["rabi_frequency"] == pytest.approx(expected, rel=0.03)


def test_the_resonator_shows_a_lorentzian_dip_with_noise(station, tmp_path):
    run_locally(ResonatorSpectroscopy, {"seed": 3}, station, tmp_path / "res.h5")
    data = load(tmp_path / "res.h5")
    amplitude = data["amplitude"]
    deepest = data["frequency"][np.argmin(amplitude)]
    assert abs(deepest - station.parameters.resonator_frequency) < 0.5e6
    assert amplitude.min() < 0.4 * np.median(amplitude)
    assert np.std(np.diff(amplitude[:20])) > 0          # noisy, as measured data are


def test_the_same_seed_gives_the_same_data(tmp_path):
    runs = []
    for index in range(2):
        with SimulatedStation(time_scale=0.0, lock_path=tmp_path / "l.lock") as station:
            run_locally(T1, {"seed": 11}, station, tmp_path / f"t1-{index}.h5")
        runs.append(load(tmp_path / f"t1-{index}.h5")["i"])
    np.testing.assert_array_equal(runs[0], runs[1])


def test_a_second_connection_is_refused_and_names_the_holder(tmp_path):
    first = SimulatedStation(lock_path=tmp_path / "station.lock").connect()
    with pytest.raises(InvalidJob, match=r"station 'sim-qubit' is in use by pid \d+"):
        SimulatedStation(lock_path=tmp_path / "station.lock").connect()
    first.close()
    SimulatedStation(lock_path=tmp_path / "station.lock").connect().close()


def test_a_connection_refused_while_the_holder_is_still_writing_its_name_still_names_it(tmp_path):
    # the race two jobs starting together meet: the first has the lock but not yet written who
    lock = tmp_path / "station.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "time.sleep(0.2)\n"
        "os.pwrite(fd, b'JOB-20261130-00001, pid 1 on lab\\n', 0)\n"
        "sys.stdin.read()\n")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(InvalidJob, match="is in use by JOB-20261130-00001, pid 1 on lab"):
            SimulatedStation(lock_path=lock).connect()
    finally:
        holder.kill()
        holder.wait()
    SimulatedStation(lock_path=lock).connect().close()   # the kernel freed the dead holder's lock


def test_overlapping_measurements_on_one_connection_are_refused(tmp_path):
    station = SimulatedStation(rep_time=1e-3, time_scale=1.0, lock_path=tmp_path / "l.lock").connect()
    started, errors = threading.Event(), []

    def long_sweep() -> None:
        started.set()
        station.relaxation(np.linspace(0, 1e-5, 10), reps=100)   # one second of shots

    thread = threading.Thread(target=long_sweep)
    thread.start()
    started.wait()
    while station.first_used_at is None:
        pass
    try:
        station.relaxation(np.array([0.0]), reps=1)
    except InvalidJob as exc:
        errors.append(str(exc))
    thread.join()
    station.close()
    assert errors and "busy with relaxation" in errors[0]


def test_measuring_without_connecting_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidJob, match="not connected"):
        SimulatedStation(lock_path=tmp_path / "l.lock").rabi([0.0], reps=10, amplitude=0.5)


def test_acquisition_time_grows_with_points_and_shots():
    station = SimulatedStation(rep_time=100e-6, time_scale=1.0)
    assert station.acquisition_time(points=10, reps=1000) == pytest.approx(1.0)
    assert SimulatedStation().acquisition_time(points=81, reps=500) < 0.2   # short by default


def test_unknown_device_parameters_are_refused():
    with pytest.raises(InvalidJob, match="unknown device parameter 'qubit_freq'"):
        SimulatedStation(parameters={"qubit_freq": 5e9})


def test_the_holder_named_in_the_refusal_is_the_job_that_holds_the_station(tmp_path, monkeypatch):
    monkeypatch.setenv("JOBMAGICS_JOB_ID", "JOB-20261121-00042")
    monkeypatch.setenv("JOBMAGICS_QUEUE", str(tmp_path))
    first = SimulatedStation(lock_path=tmp_path / "station.lock").connect()
    with pytest.raises(InvalidJob, match=r"in use by JOB-20261121-00042, pid \d+ on "):
        SimulatedStation(lock_path=tmp_path / "station.lock").connect()
    first.close()
