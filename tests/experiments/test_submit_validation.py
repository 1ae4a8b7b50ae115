"""An experiment is checked at submit with the worker's own words: an unknown class, key, type
or range is refused by Python and the command line exactly as the worker would fail it, and
nothing is queued; a class only the worker can import is queued with an event saying so."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import jobmagics
from jobmagics.errors import InvalidJob
from kernel_worker import spawn
from tests.conftest import ROOT

RABI = "jobmagics.experiments:Rabi"
BAD = [
    (RABI, {"pionts": 11}),                     # a typo'd key
    (RABI, {"amplitude": 3.0}),                 # out of range
    (RABI, {"points": "many"}),                 # a wrong type
    ("jobmagics.experiments:Rabbi", {}),        # an unknown class
]
LAB = """
from jobmagics.experiments import Experiment

class Sweep(Experiment):
    defaults = {"gain": 1.0, "points": 5}

    def validate(self):
        self.require(0 < self.config["gain"] <= 10, f"gain must be in (0, 10], not {self.config['gain']}")

    def run(self, station, data):
        for x in range(self.config["points"]):
            data.append(x=x, y=self.config["gain"] * x)
        return {"gain": self.config["gain"]}
"""


def cli(queue_dir: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobmagics", "--queue", str(queue_dir), *args],
                          capture_output=True, text=True, timeout=120, check=False,
                          cwd=cwd or ROOT)


def refusal(queue: jobmagics.Queue, target: str, config: dict, **options) -> str:
    with pytest.raises(InvalidJob) as refused:
        queue.submit(experiment=target, config=config, **options)
    return str(refused.value)


def test_bad_experiments_are_refused_at_submit_with_the_message_the_worker_fails_them_with(
        queue, queue_dir, worker, monkeypatch):
    with monkeypatch.context() as bypass:     # as if only the worker could import the class
        bypass.setattr("jobmagics.experiments.checking.find_class",
                       lambda target, cwd: (None, "bypassed by the test"))
        failed = [queue.submit(experiment=target, config=config) for target, config in BAD]
    for job in failed:
        job.wait(120)
    assert all(job.state is jobmagics.State.FAILED for job in failed)
    worker_says = [job.log().splitlines()[-1] for job in failed]    # the worker's own words
    before = queue.count()
    for (target, config), message, job in zip(BAD, worker_says, failed, strict=True):
        assert job.error == message                 # word for word, from the kernel too
        assert refusal(queue, target, config) == message
        done = cli(queue_dir, "submit", "--experiment", target, "--config", json.dumps(config))
        assert (done.returncode, done.stdout) == (2, "")
        assert done.stderr == f"jobmagics: error: {message}\n"
    assert queue.count() == before                       # nothing queued by any refusal
    assert "unknown key 'pionts'; did you mean 'points'?" in worker_says[0]


def test_a_sweep_with_one_bad_point_is_refused_whole_and_nothing_is_queued(queue, worker):
    with pytest.raises(InvalidJob, match=r"bad config for Rabi: amplitude must be in \(0, 1\]"):
        queue.sweep(RABI, over={"amplitude": [0.1, 0.2, 1.5]}, base={"points": 5})
    with pytest.raises(InvalidJob, match="unknown key 'amplitud'"):
        queue.submit_array(experiment=RABI, items=[{"amplitude": 0.1}, {"amplitud": 0.2}])
    assert queue.count() == 0


def test_a_big_sweep_of_a_lab_class_imports_its_module_once(queue, experiment_folder, tmp_path):
    imports = tmp_path / "imports.txt"
    folder = experiment_folder("counted_lab", f"open({str(imports)!r}, 'a').write('imported\\n')\n" + LAB)
    array = queue.sweep("counted_lab:Sweep", base={"points": 3},
                        over={"gain": [0.001 * (i + 1) for i in range(2000)]}, cwd=folder, hold=True)
    assert array.size == 2000
    assert imports.read_text() == "imported\n"
    queue.submit(experiment="counted_lab:Sweep", cwd=folder, hold=True)
    assert imports.read_text() == "imported\n"          # its file did not change: not again


def test_a_lab_module_edited_between_submits_is_checked_as_it_is_now(queue, experiment_folder):
    folder = experiment_folder("edited_lab", LAB)
    assert "unknown key 'offset'" in refusal(queue, "edited_lab:Sweep", {"offset": 1}, cwd=folder)
    (folder / "edited_lab.py").write_text(LAB.replace('"points": 5}', '"points": 5, "offset": 0.0}'))
    job = queue.submit(experiment="edited_lab:Sweep", config={"offset": 1}, cwd=folder, hold=True)
    assert "not checked" not in job.events()[0]["detail"]


def test_a_class_only_the_worker_can_import_is_queued_with_an_event_and_checked_when_it_starts(
        queue, queue_dir, tmp_path, experiment_folder):
    worker_side = experiment_folder("worker_only_lab", LAB)      # on the worker's path only
    elsewhere = tmp_path / "notebooks"
    elsewhere.mkdir()
    env = dict(os.environ, PYTHONPATH=f"{worker_side}{os.pathsep}{ROOT}")
    handle = spawn(queue_dir, "--resource", "hardware", log=tmp_path / "w.log", cwd=ROOT, env=env)
    try:
        good = queue.submit(experiment="worker_only_lab:Sweep", config={"gain": 2.0}, cwd=elsewhere)
        bad = queue.submit(experiment="worker_only_lab:Sweep", config={"gain": 20.0}, cwd=elsewhere)
        for job in (good, bad):
            assert job.events()[0]["detail"] == (
                f"submitted by {queue.user}; not checked at submit: no module named"
                f" 'worker_only_lab' in {elsewhere} or this Python environment;"
                " checked when it starts")
        assert good.wait(120).state is jobmagics.State.COMPLETED, good.log()
        assert good.data()["y"][-1] == 8.0 and good.snapshot()["config"]["gain"] == 2.0
        assert bad.wait(120).state is jobmagics.State.FAILED
    finally:
        handle.stop(timeout=30)
    # where it can be imported at submit, the same config is refused with the worker's words
    worker_says = bad.log().splitlines()[-1]
    assert worker_says == "bad config for Sweep: gain must be in (0, 10], not 20.0"
    assert bad.error == worker_says
    assert refusal(queue, "worker_only_lab:Sweep", {"gain": 20.0}, cwd=worker_side) == worker_says


def test_a_lab_module_that_fails_to_import_here_is_queued_and_says_why(queue, experiment_folder):
    folder = experiment_folder("driver_lab", "import no_such_instrument_driver\n")
    job = queue.submit(experiment="driver_lab:Sweep", cwd=folder, hold=True)
    assert ("not checked at submit: importing driver_lab here failed (ModuleNotFoundError: No module"
            " named 'no_such_instrument_driver'); checked when it starts") in job.events()[0]["detail"]


def test_a_syntax_error_in_the_lab_module_is_refused_as_the_worker_would(queue, experiment_folder):
    folder = experiment_folder("typo_lab", "def broken(:\n")
    message = refusal(queue, "typo_lab:Sweep", {}, cwd=folder)
    assert message.startswith("cannot import module typo_lab: SyntaxError: ")
    assert queue.count() == 0


def test_a_crash_in_a_lab_validate_is_refused_naming_the_class(queue, experiment_folder):
    folder = experiment_folder("buggy_lab", LAB.replace("self.require(0 <", "self.config['nope'] and self.require(0 <"))
    assert refusal(queue, "buggy_lab:Sweep", {}, cwd=folder) == \
        "checking the config of buggy_lab:Sweep failed: KeyError: 'nope'"


def test_the_client_cannot_forge_the_not_checked_note(queue):
    from jobmagics.model import JobSpec
    spec = JobSpec(kind="experiment", cwd=str(ROOT),
                   experiment={"target": RABI, "config": {}, "unchecked": "forged"}).validate()
    from jobmagics.experiments.checking import check_at_submit
    check_at_submit(spec.experiment, spec.cwd)
    assert "unchecked" not in spec.experiment
