"""``jobmagics move`` and ``jobmagics set`` from the command line: what they print, what
``status`` then shows, and one line with exit status 2 (nothing changed) for every mistake."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import jobmagics
from tests.conftest import WorkerProcess, wait_for
from tests.test_cli import cli
from tests.test_edits import rows


def submit(queue_dir: Path, *args: str) -> str:
    done = cli(queue_dir, "submit", *args, "--", "true")
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_move_to_the_top_prints_where_and_the_queue_lists_it_first(queue_dir: Path) -> None:
    first, second = submit(queue_dir, "--name", "a"), submit(queue_dir, "--name", "b")
    done = cli(queue_dir, "move", second, "--top")
    assert (done.returncode, done.stdout) == (0, f"{second} moved to the top (priority 0)\n")
    listing = cli(queue_dir, "queue").stdout
    assert listing.index(second) < listing.index(first)
    done = cli(queue_dir, "move", second, "--after", first)
    assert done.stdout == f"{second} moved after {first} (priority 0)\n"
    listing = cli(queue_dir, "queue").stdout
    assert listing.index(first) < listing.index(second)


def test_set_changes_several_jobs_and_status_shows_who_changed_what(queue_dir: Path) -> None:
    ids = [submit(queue_dir, "--name", "fit"), submit(queue_dir, "--hold")]
    done = cli(queue_dir, "set", *ids, "--priority", "5", "--timeout", "600", "--memory", "1G",
               "--notify", "email:alice@example.org", "--notify-on", "failure")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{job_id}: priority 5, memory 1G, timeout 600, notify email:alice@example.org,"
        " notify_on failure" for job_id in ids]
    status = cli(queue_dir, "status", ids[0]).stdout
    user = jobmagics.Queue(queue_dir).user
    assert (f"{user} set priority 0 -> 5, memory none -> 1G, timeout none -> 600,"
            " notify none -> email:alice@example.org, notify_on end -> failure") in status
    assert "priority    5" in status or "priority  5" in status


def test_set_changes_an_experiments_config_keys(queue_dir: Path) -> None:
    job = jobmagics.Queue(queue_dir).submit(experiment="jobmagics.experiments:T1",
                                            config={"points": 11}, hold=True)
    done = cli(queue_dir, "set", job.id, "--config", "points=21", "--config", "reps=200")
    assert done.returncode == 0, done.stderr
    assert job.record.experiment is not None
    assert job.record.experiment["config"] == {"points": 21, "reps": 200}


def test_a_config_key_the_experiment_does_not_take_is_refused_as_at_submit(
        queue_dir: Path) -> None:
    q = jobmagics.Queue(queue_dir)
    job = q.submit(experiment="jobmagics.experiments:T1", config={"points": 11}, hold=True)
    before = rows(q)
    done = cli(queue_dir, "set", job.id, "--config", "note=cool down")
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "unknown key 'note'" in done.stderr
    assert rows(q) == before


def test_a_running_job_cannot_be_set_or_moved_and_says_why(
        queue_dir: Path, start_worker: Callable[..., WorkerProcess]) -> None:
    q = jobmagics.Queue(queue_dir)
    running = q.submit([sys.executable, "-c", "import time; time.sleep(30)"])
    start_worker("--slots", "1")
    wait_for(lambda: running.record.state.value == "running" and running.record.pid, 30)
    before = rows(q)
    for argv in (["set", running.id, "--priority", "3"], ["move", running.id, "--top"]):
        done = cli(queue_dir, *argv)
        assert done.returncode == 2 and done.stderr.count("\n") == 1
        assert done.stderr == (f"jobmagics: error: {running.id} is running: only waiting or"
                               " pending jobs can be moved or changed\n")
    assert rows(q) == before
    running.cancel()


@pytest.mark.parametrize("argv, says", [
    (["move", "JOB-20200101-00001", "--top"], "no job 'JOB-20200101-00001'"),
    (["move", "{a}", "--before", "{hw}"], ("waits for nothing, {hw} for hardware: they are not in"
                                          " the same line")),
    (["move", "{a}", "--before", "{a}"], "cannot move {a} before itself"),
    (["move", "{a}"], "one of the arguments --top --bottom --before --after is required"),
    (["move", "{a}", "--top", "--bottom"], "not allowed with argument"),
    (["set", "{a}", "--priority", "high"], "priority must be a whole number"),
    (["set", "{a}", "{hw}", "--priority", "99999999999"], "priority"),
    (["set", "{a}", "--cwd", "/"], "unrecognized arguments: --cwd"),
    (["set", "{a}", "--timeout", "-1"], "timeout must be a positive number of seconds"),
    (["set", "{a}", "--config", "x"], "--config 'x': write it as KEY=VALUE"),
    (["set", "{a}", "--config", "x=1"], "{a} is a command job: only an experiment has a config"),
    (["set", "{a}"], "nothing to change"),
    (["set", "{a}", "JOB-20200101-00001", "--priority", "2"], "no job 'JOB-20200101-00001'"),
])
def test_every_mistake_is_one_line_exit_2_and_changes_nothing(queue_dir: Path, argv: list[str],
                                                               says: str) -> None:
    names = {"a": submit(queue_dir), "hw": submit(queue_dir, "--resource", "hardware")}
    q = jobmagics.Queue(queue_dir)
    before = rows(q)
    done = cli(queue_dir, *[arg.format(**names) for arg in argv])
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert says.format(**names) in done.stderr
    assert rows(q) == before


def test_set_on_an_array_changes_its_waiting_elements_and_says_how_many(queue_dir: Path) -> None:
    array = jobmagics.Queue(queue_dir).submit_array(["true"], items=range(4))
    done = cli(queue_dir, "set", array.id, "--priority", "2")
    assert (done.returncode, done.stdout) == (0, f"{array.id}: 4 elements: priority 2\n")
