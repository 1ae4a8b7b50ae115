"""``jobmagics submit --experiment`` with ``--config``/``--config-file`` run by a real worker,
and ``jobmagics config push|pull|list|history|main|diff``: YAML and JSON alike, bad input one
line and exit 2 with nothing written."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import jobmagics
from tests.conftest import ROOT

RABI = "jobmagics.experiments:Rabi"


def jm(queue_dir: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobmagics", *args, "--queue", str(queue_dir)],
                          capture_output=True, text=True, timeout=120, check=False, cwd=cwd)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    return done.stdout


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2 and done.stdout == "", (done.returncode, done.stdout)
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("jobmagics: error: "), done.stderr
    return lines[0].removeprefix("jobmagics: error: ")


# ---- submit --experiment -------------------------------------------------------------------
def test_a_builtin_experiment_submitted_with_inline_json_and_with_a_yaml_file_runs_with_data(
        queue_dir: Path, queue: jobmagics.Queue, worker: object, tmp_path: Path) -> None:
    inline = ok(jm(queue_dir, "submit", "--experiment", RABI, "--config",
                   '{"amplitude": 0.3, "points": 11}')).strip()
    config_file = tmp_path / "rabi.yaml"
    config_file.write_text("# the lab's Rabi settings\namplitude: 0.25\npoints: 13\nstop: 2.0e-7\n")
    from_file = ok(jm(queue_dir, "submit", "--experiment", RABI, "--config-file",
                      str(config_file), "--config", '{"points": 9}', "--name", "rabi-file")).strip()
    first, second = queue.get(inline).wait(120), queue.get(from_file).wait(120)
    assert first.state is second.state is jobmagics.State.COMPLETED, (first.error, second.error)
    assert first.data().points == 11 and first.snapshot()["config"]["amplitude"] == 0.3
    assert second.data().points == 9                      # --config over the file's keys
    assert second.snapshot()["submitted_config"] == {"amplitude": 0.25, "points": 9, "stop": 2e-7}
    assert second.last_read.name == "rabi-file"


@pytest.mark.parametrize("args, message", [
    (["--config", '{"amplitude": 0.3'], "--config is not JSON: "),
    (["--config", "[1, 2]"], "--config must be a JSON object of keys and values, not list"),
    (["--config", '{"x": NaN}'], "--config is not JSON: NaN is not a JSON number"),
    (["--config-file", "missing.yaml"], "missing.yaml: cannot read it: No such file or directory"),
    (["--config-file", "cfg.toml"], "cfg.toml: a config file ends in .yaml, .yml or .json"),
    (["--config-file", "list.yaml"], "list.yaml: a config is a mapping of keys to values, not a list"),
    (["--config-file", "broken.yaml"], "broken.yaml: not valid YAML (line 2): "),
    (["--config-file", "broken.json"], "broken.json: not valid JSON: "),
    (["--config-file", "date.yaml"], "date.yaml: when is a date (2026-01-01), not plain data"),
    (["--config-file", "empty.yaml"], "empty.yaml: a config is a mapping of keys to values, not an empty file"),
])
def test_a_bad_config_on_the_command_line_is_one_line_naming_it_and_nothing_is_queued(
        queue_dir: Path, queue: jobmagics.Queue, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "broken.yaml").write_text("a: [1\nb: 2\n")
    (tmp_path / "broken.json").write_text('{"a": 1,}')
    (tmp_path / "date.yaml").write_text("when: 2026-01-01\n")
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "cfg.toml").write_text("a = 1\n")
    said = one_line_error(jm(queue_dir, "submit", "--experiment", RABI, *args, cwd=tmp_path))
    assert said.startswith(message), said
    assert queue.count() == 0


@pytest.mark.parametrize("args, message", [
    (["--config", "{}", "--", "true"], "--config and --config-file are an experiment's"),
    (["--experiment", RABI, "--code", "1"], "give a command after --, or --code CODE, or --file"),
    (["--experiment", "no-colon"], "an experiment names its class as 'module:Class'"),
])
def test_the_body_flags_take_exactly_one_body(queue_dir: Path, queue: jobmagics.Queue,
                                              args: list[str], message: str) -> None:
    assert one_line_error(jm(queue_dir, "submit", *args)).startswith(message)
    assert queue.count() == 0


# ---- config push|pull|list|history|main|diff ----------------------------------------------
STATION = {"qubit": {"frequency": 5.1e9, "amplitude": 0.3}, "readout": {"length": 2e-6}, "reps": 100}


def test_a_yaml_config_pushed_is_pulled_back_as_yaml_and_as_json(queue_dir: Path, tmp_path: Path) -> None:
    pushed = tmp_path / "station.yaml"
    pushed.write_text("qubit:\n  frequency: 5.1e9\n  amplitude: 0.3\nreadout:\n  length: 2e-6\nreps: 100\n")
    assert ok(jm(queue_dir, "config", "push", "station", str(pushed), "--note", "cooldown 3")) == \
        "station: saved as version 1 (main)\n"
    assert yaml.safe_load(ok(jm(queue_dir, "config", "pull", "station"))) == STATION
    ok(jm(queue_dir, "config", "pull", "station", "-o", str(tmp_path / "out.json")))
    assert json.loads((tmp_path / "out.json").read_text()) == STATION
    ok(jm(queue_dir, "config", "pull", "station", "-o", str(tmp_path / "out.yml")))
    assert yaml.safe_load((tmp_path / "out.yml").read_text()) == STATION
    assert jobmagics.Queue(queue_dir).configs.load("station") == STATION


def test_history_main_and_diff_of_a_config_pushed_as_json_then_yaml(queue_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "v1.json").write_text(json.dumps(STATION))
    (tmp_path / "v2.yaml").write_text(
        "qubit:\n  frequency: 5.2e9\n  amplitude: 0.3\n  drag: 0.1\nreadout:\n  length: 2e-6\n")
    ok(jm(queue_dir, "config", "push", "station", str(tmp_path / "v1.json"), "--note", "first"))
    assert ok(jm(queue_dir, "config", "push", "station", str(tmp_path / "v2.yaml"))) == \
        "station: saved as version 2 (main)\n"
    assert ok(jm(queue_dir, "config", "push", "station", str(tmp_path / "v1.json"))) == \
        "station: identical to version 1 (main)\n"            # no duplicate copy
    history = json.loads(ok(jm(queue_dir, "config", "history", "station", "--json")))
    assert [(v["version"], v["main"], v["note"]) for v in history] == [(1, True, "first"), (2, False, None)]
    table = ok(jm(queue_dir, "config", "history", "station")).splitlines()
    assert table[0].split() == ["VERSION", "MAIN", "SAVED", "BY", "NOTE"]
    assert table[1].split()[:2] == ["1", "*"] and table[1].endswith("first")
    assert ok(jm(queue_dir, "config", "main", "station", "2")) == "station: main version is now 2\n"
    assert yaml.safe_load(ok(jm(queue_dir, "config", "pull", "station")))["qubit"]["drag"] == 0.1
    assert ok(jm(queue_dir, "config", "diff", "station", "1", "2")).splitlines() == [
        "~ qubit.frequency: 5100000000.0 -> 5200000000.0", "+ qubit.drag: 0.1", "- reps: 100"]
    assert "hold the same config" in ok(jm(queue_dir, "config", "diff", "station", "2", "2"))
    listed = json.loads(ok(jm(queue_dir, "config", "list", "--json")))
    assert [(c["name"], c["main"], c["versions"]) for c in listed] == [("station", 2, 2)]
    assert ok(jm(queue_dir, "config", "list")).splitlines()[1].split()[:3] == ["station", "2", "2"]


def test_an_empty_queue_lists_no_configs_and_says_how_to_push_one(queue_dir: Path) -> None:
    assert "jobmagics config push NAME FILE.yaml" in ok(jm(queue_dir, "config", "list"))


@pytest.mark.parametrize("args, message", [
    (["pull", "nope"], "no config named 'nope' in this queue (known: station)"),
    (["pull", "station", "--version", "7"], "config 'station' has no version 7 (it has 1..1)"),
    (["history", "nope"], "no config named 'nope' in this queue"),
    (["main", "station", "3"], "config 'station' has no version 3 (it has 1..1)"),
    (["main", "nope", "1"], "no config named 'nope'"),
    (["diff", "station", "1", "2"], "config 'station' has no version 2"),
    (["push", "station", "missing.json"], "missing.json: cannot read it: No such file or directory"),
    (["push", "station", "list.json"], "list.json: a config is a mapping of keys to values, not a list"),
    (["push", "station", "station.txt"], "station.txt: a config file ends in .yaml, .yml or .json"),
    (["push", "bad name", "good.json"], "bad config name 'bad name'"),
    (["pull", "station", "-o", "out.txt"], "out.txt: a config file ends in .yaml, .yml or .json"),
])
def test_bad_config_commands_are_one_line_and_change_nothing(
        queue_dir: Path, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "good.json").write_text('{"a": 1}')
    (tmp_path / "list.json").write_text("[1]")
    (tmp_path / "station.txt").write_text("a: 1\n")
    ok(jm(queue_dir, "config", "push", "station", str(tmp_path / "good.json")))
    before = sorted(p.relative_to(queue_dir) for p in (queue_dir / "configs").rglob("*"))
    said = one_line_error(jm(queue_dir, "config", *args, cwd=tmp_path))
    assert said.startswith(message), said
    assert sorted(p.relative_to(queue_dir) for p in (queue_dir / "configs").rglob("*")) == before
    assert not (tmp_path / "out.txt").exists()


def test_a_version_that_is_not_a_number_is_refused_by_the_parser(queue_dir: Path) -> None:
    done = jm(queue_dir, "config", "main", "station", "latest")
    assert done.returncode == 2 and "'latest' is not a version number" in done.stderr
