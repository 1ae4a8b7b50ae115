"""``jobmagics schedule ...`` run as a real program: adding (a command, --code, --file, job
options after NAME), listing with the next run, the verbs on several names, and every bad
input said in one line with exit status 2 and nothing stored."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import jobmagics
from tests.conftest import WorkerProcess, wait_for


def cli(queue_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobmagics", "--queue", str(queue_dir), *args],
                          capture_output=True, text=True, timeout=60, check=False)


def listed(queue_dir: Path) -> list[dict[str, object]]:
    result = cli(queue_dir, "schedule", "list", "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_add_takes_job_options_after_the_name_and_the_command_after_dashes(queue_dir):
    result = cli(queue_dir, "schedule", "add", "fit", "--every", "1h", "--priority", "3",
                 "--overlap", "queue", "--", "python", "-c", "print(1)", "--verbose")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("fit: every 1h, first run ")
    (schedule,) = listed(queue_dir)
    assert (schedule["name"], schedule["every"], schedule["overlap"]) == ("fit", 3600.0, "queue")
    assert schedule["what"] == "python -c 'print(1)' --verbose"
    job = jobmagics.Queue(queue_dir).get_schedule("fit").run_now()
    assert job.record.priority == 3
    assert job.record.command == ["python", "-c", "print(1)", "--verbose"]


def test_add_takes_code_or_a_file_and_cron_with_its_zone(queue_dir, tmp_path):
    script = tmp_path / "nightly.py"
    script.write_text("print('nightly')\n")
    assert cli(queue_dir, "schedule", "add", "a", "--cron", "0 3 * * *", "--tz",
               "Europe/Berlin", "--file", str(script)).returncode == 0
    assert cli(queue_dir, "schedule", "add", "b", "--every", "30m", "--code",
               "print(1)").returncode == 0
    schedules = {s["name"]: s for s in listed(queue_dir)}
    assert schedules["a"]["rhythm"] == "cron 0 3 * * * (Europe/Berlin)"
    assert schedules["a"]["what"] == "print('nightly')" and schedules["b"]["what"] == "print(1)"


def test_add_takes_an_experiment_with_its_config_as_submit_does(queue_dir):
    result = cli(queue_dir, "schedule", "add", "rabi", "--cron", "0 */2 * * *", "--experiment",
                 "jobmagics.experiments:Rabi", "--config", '{"amplitude": 0.3}')
    assert result.returncode == 0, result.stderr
    job = jobmagics.Queue(queue_dir).get_schedule("rabi").run_now()
    assert job.record.experiment == {"target": "jobmagics.experiments:Rabi",
                                     "config": {"amplitude": 0.3}}


def test_list_shows_the_next_run_in_local_time_and_how_soon(queue_dir):
    cli(queue_dir, "schedule", "add", "soon", "--every", "5m", "--", "true")
    cli(queue_dir, "schedule", "add", "held", "--every", "1h", "--", "true")
    cli(queue_dir, "schedule", "pause", "held")
    text = cli(queue_dir, "schedule", "list").stdout
    header, *rows = text.splitlines()
    assert header.split()[:4] == ["NAME", "OWNER", "RHYTHM", "NEXT"]
    row = {line.split()[0]: line for line in rows}
    assert "every 5m" in row["soon"] and "(in 4m" in row["soon"]
    assert "paused" in row["held"]


def test_run_now_pause_resume_remove_take_several_names(queue_dir):
    for name in ("a", "b"):
        cli(queue_dir, "schedule", "add", name, "--every", "1h", "--", "true")
    ran = cli(queue_dir, "schedule", "run-now", "a", "b")
    assert ran.returncode == 0 and ran.stdout.count("submitted JOB-") == 2
    assert cli(queue_dir, "schedule", "pause", "a", "b").stdout.split("\n")[:2] == [
        "a paused", "b paused"]
    assert all(s["paused"] for s in listed(queue_dir))
    assert cli(queue_dir, "schedule", "resume", "a").stdout.strip() == "a resumed"
    assert cli(queue_dir, "schedule", "remove", "a", "b").returncode == 0
    assert listed(queue_dir) == []
    assert jobmagics.Queue(queue_dir).count() == 2         # the jobs they submitted stay


def test_runs_lists_what_a_schedule_submitted_run_by_a_worker(queue_dir, worker: WorkerProcess):
    cli(queue_dir, "schedule", "add", "tick", "--every", "1s", "--", "echo", "tock")
    q = jobmagics.Queue(queue_dir)
    job = wait_for(lambda: q.get_schedule("tick").runs(), timeout=20)[0]  # type: ignore[index]
    q.act_on_schedules("pause", ["tick"])
    assert job.wait(30).state is jobmagics.State.COMPLETED
    runs = json.loads(cli(queue_dir, "schedule", "runs", "tick", "--json").stdout)
    assert job.id in [r["id"] for r in runs] and all(r["schedule"] == "tick" for r in runs)


@pytest.mark.parametrize(("args", "message"), [
    (["add", "x", "--every", "0", "--", "true"], "every must be"),
    (["add", "x", "--every", "1x", "--", "true"], "bad duration"),
    (["add", "x", "--cron", "0 */2 * *", "--", "true"], "five fields"),
    (["add", "x", "--cron", "99 * * * *", "--", "true"], "bad cron expression"),
    (["add", "x", "--cron", "0 * * * *", "--tz", "Nowhere/Atlantis", "--", "true"],
     "unknown time zone"),
    (["add", "x", "--every", "1h", "--cron", "0 * * * *", "--", "true"], "exactly one"),
    (["add", "x", "--", "true"], "exactly one"),
    (["add", "x", "--every", "1h", "--priority", "high", "--", "true"], "priority"),
    (["add", "x", "--every", "1h", "--resource", "nosuch", "--", "true"], "unknown resource"),
    (["add", "x", "--every", "1h", "--code", "def (", ], "does not compile"),
    (["add", "x", "--every", "1h"], "give a command"),
    (["add", "x", "--every", "1h", "--file", "/nonexistent.py"], "--file"),
    (["add", "x y", "--every", "1h", "--", "true"], "schedule name"),
    (["add", "x", "--every", "1h", "--overlap", "maybe", "--", "true"], "overlap"),
    (["add", "x", "--every", "1h", "--experiment", "jobmagics.experiments:Rabi", "--config",
      '{"amplitudo": 0.3}'], "unknown key 'amplitudo'"),
    (["add", "--every", "1h", "--", "true"], "name the schedule"),
    (["pause", "nosuch"], "no schedule named 'nosuch'"),
    (["run-now", "nosuch"], "no schedule named 'nosuch'"),
    (["remove", "nosuch"], "no schedule named 'nosuch'"),
])
def test_bad_input_is_one_line_with_exit_2_and_nothing_is_stored(queue_dir, args, message):
    result = cli(queue_dir, "schedule", *args)
    assert result.returncode == 2, result
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert listed(queue_dir) == [] and jobmagics.Queue(queue_dir).count() == 0


def test_a_taken_name_is_one_line_with_exit_2_and_the_first_schedule_stays(queue_dir):
    cli(queue_dir, "schedule", "add", "x", "--every", "1h", "--", "first")
    result = cli(queue_dir, "schedule", "add", "x", "--every", "2h", "--", "second")
    assert result.returncode == 2 and "exists already" in result.stderr
    assert [s["what"] for s in listed(queue_dir)] == ["first"]


def test_a_verb_naming_an_unknown_schedule_acts_on_none(queue_dir):
    cli(queue_dir, "schedule", "add", "x", "--every", "1h", "--", "true")
    result = cli(queue_dir, "schedule", "pause", "x", "nosuch")
    assert result.returncode == 2 and "nosuch" in result.stderr
    assert [s["paused"] for s in listed(queue_dir)] == [False]
