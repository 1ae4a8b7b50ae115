"""``%job submit --experiment`` and ``%job config ...`` in a real kernel: an experiment runs
with its data, a bad one is refused with the worker's words (one UsageError, nothing queued),
and configs are pushed, pulled, listed, diffed from the notebook."""
from __future__ import annotations

import json
from pathlib import Path

import jobmagics

RABI = "jobmagics.experiments:Rabi"


def test_an_experiment_submitted_from_a_line_magic_runs_with_its_data(kernel, queue, worker, tmp_path: Path):
    config = tmp_path / "rabi.yml"
    config.write_text("amplitude: 0.2\npoints: 7\n")
    ran = kernel.run(f"job = %job submit --experiment {RABI} --config-file {config} --config"
                     " '{\"reps\": 50}' --wait\nprint(job.data().points, job.snapshot()['config']['reps'])")
    assert ran.error is None, ran.error
    assert ran.stdout.split()[-2:] == ["7", "50"]


def test_a_bad_experiment_in_a_magic_is_one_usage_error_with_the_workers_words(kernel, queue, worker,
                                                                               monkeypatch):
    with monkeypatch.context() as bypass:           # the worker's own words, for comparison
        bypass.setattr("jobmagics.experiments.checking.find_class",
                       lambda target, cwd: (None, "bypassed by the test"))
        failed = queue.submit(experiment=RABI, config={"pionts": 3})
    failed.wait(120)
    worker_says = failed.log().splitlines()[-1]
    before = queue.count()
    refused = kernel.run(f"%job submit --experiment {RABI} --config '{{\"pionts\": 3}}'")
    assert refused.error is not None and refused.error["ename"] == "UsageError"
    assert refused.error["evalue"] == worker_says
    sweep = kernel.run(f"%job submit --experiment {RABI} --sweep amplitude=0.5:1.5:3")
    assert sweep.error["evalue"] == "bad config for Rabi: amplitude must be in (0, 1]"
    cell = kernel.run(f"%%job submit --experiment {RABI}\nprint(1)")
    assert "no cell, command, --push or --pull" in cell.error["evalue"]
    assert queue.count() == before


def test_configs_are_pushed_pulled_listed_and_diffed_from_the_notebook(kernel, queue, tmp_path: Path):
    (tmp_path / "v1.yaml").write_text("qubit:\n  frequency: 5.1e9\nreps: 100\n")
    (tmp_path / "v2.json").write_text(json.dumps({"qubit": {"frequency": 5.2e9}, "reps": 100}))
    pushed = kernel.run(f"%job config push station {tmp_path / 'v1.yaml'} --note first\n"
                        f"%job config push station {tmp_path / 'v2.json'}")
    assert pushed.error is None, pushed.error
    assert pushed.stdout.splitlines() == ["station: saved as version 1 (main)",
                                          "station: saved as version 2 (main)"]
    pulled = kernel.run("cfg = %job config pull station")
    assert pulled.error is None, pulled.error
    assert kernel.value("cfg") == {"qubit": {"frequency": 5.2e9}, "reps": 100}
    diffed = kernel.run("%job config diff station 1 2")
    assert diffed.stdout.strip() == "~ qubit.frequency: 5100000000.0 -> 5200000000.0"
    listed = kernel.run("%job config main station 1\n%job config list\n%job config history station")
    assert listed.error is None, listed.error
    assert "station: main version is now 1" in listed.stdout
    assert any(line.split()[:3] == ["station", "1", "2"] for line in listed.stdout.splitlines())
    assert jobmagics.Queue(queue.path).configs.main_version("station") == 1
    kernel.run(f"%job config pull station -o {tmp_path / 'out.json'}")
    assert json.loads((tmp_path / "out.json").read_text()) == {"qubit": {"frequency": 5.1e9}, "reps": 100}


def test_bad_config_magics_are_one_usage_error_and_change_nothing(kernel, queue, tmp_path: Path):
    (tmp_path / "list.yaml").write_text("- 1\n")
    for line, message in [
        ("%job config pull nope", "no config named 'nope' in this queue"),
        (f"%job config push station {tmp_path / 'list.yaml'}", "list.yaml: a config is a mapping"),
        ("%job config main station", "%job config main takes NAME VERSION, not station"),
        ("%job config diff station 1 x", "'x' is not a version number"),
        ("%job config frobnicate", "invalid choice: 'frobnicate'"),
    ]:
        ran = kernel.run(line)
        assert ran.error is not None and ran.error["ename"] == "UsageError", (line, ran.error)
        assert message in ran.error["evalue"], (line, ran.error["evalue"])
    assert not (queue.path / "configs" / "station").exists()
