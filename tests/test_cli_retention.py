"""``jobmagics prune`` and ``jobmagics du`` as a user types them (real processes): what they
print, their JSON, and bad input (one line, exit 2, nothing changed)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import jobmagics
from tests.test_retention import age, everything


def cli(queue_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobmagics", "--queue", str(queue_dir), *args],
                          capture_output=True, text=True, timeout=120, check=False)


def old_cancelled(queue: jobmagics.Queue, queue_dir: Path, n: int) -> list[str]:
    jobs = queue.submit_many([{"command": ["true"]} for _ in range(n)])
    queue.apply("cancel", [job.id for job in jobs])
    for job in jobs:
        queue.layout.log(job.id).write_text("a log\n")
    age(queue_dir, [job.id for job in jobs])
    return [job.id for job in jobs]


def test_prune_says_what_it_removed_and_what_the_database_gave_back(
        queue: jobmagics.Queue, queue_dir: Path) -> None:
    old_cancelled(queue, queue_dir, 3)
    done = cli(queue_dir, "prune", "--older-than", "1d")
    assert done.returncode == 0, done.stderr
    first, last = done.stdout.splitlines()[0], done.stdout.splitlines()[-1]
    assert first.startswith("removed 3 jobs: finished jobs of every user that ended before")
    assert "3 files" in first and "on disk" in first
    assert last.startswith("database ") and "pages freed" in last and "incremental vacuum" in last


def test_a_dry_run_says_what_would_go_and_changes_nothing(queue: jobmagics.Queue,
                                                          queue_dir: Path) -> None:
    old_cancelled(queue, queue_dir, 2)
    before = everything(queue_dir)
    done = cli(queue_dir, "prune", "--older-than", "36h", "--state", "cancelled", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("would remove 2 jobs: cancelled jobs of every user")
    assert done.stdout.splitlines()[-1] == "dry run: nothing was changed"
    assert everything(queue_dir) == before


def test_nothing_to_prune_says_so_and_exits_0(queue: jobmagics.Queue, queue_dir: Path) -> None:
    queue.cancel(queue.submit(["true"]).id)              # ended just now
    done = cli(queue_dir, "prune", "--older-than", "2w", "--state", "completed,cancelled")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("nothing to prune: no completed/cancelled jobs of every user")


def test_prune_json_is_the_report(queue: jobmagics.Queue, queue_dir: Path) -> None:
    old_cancelled(queue, queue_dir, 2)
    done = cli(queue_dir, "prune", "--older-than", "90m", "--keep-data", "--json")
    report = json.loads(done.stdout)
    assert report["jobs"] == 2 and report["files"] == 2 and report["keep_data"] is True
    assert report["states"] == ["completed", "failed", "cancelled", "timeout"]
    assert report["pages_freed"] is not None and report["dry_run"] is False


def test_du_shows_a_row_per_user_a_total_and_the_database(queue: jobmagics.Queue,
                                                          queue_dir: Path) -> None:
    old_cancelled(queue, queue_dir, 2)
    done = cli(queue_dir, "du")
    assert done.returncode == 0, done.stderr
    header, mine, total, database = done.stdout.splitlines()
    assert header.split() == ["user", "jobs", "logs", "outputs", "data", "snapshots", "other",
                              "total"]
    assert mine.split()[:2] == [queue.user, "2"]
    assert total.split()[:2] == ["total", "2"]
    assert database.startswith("database: jobs.db ") and "auto_vacuum incremental" in database
    by_state = json.loads(cli(queue_dir, "du", "--by", "state", "--json").stdout)
    assert [(r["key"], r["jobs"]) for r in by_state["rows"]] == [("cancelled", 2)]
    assert by_state["rows"][0]["logs"] > 0 and by_state["page_size"] > 0


@pytest.mark.parametrize(("args", "says"), [
    (["--older-than", "3x"], "'3x' is not an age"),
    (["--older-than", "0d"], "must be above zero"),
    (["--older-than", "1d", "--state", "running"], "running is not a finished state"),
    (["--older-than", "1d", "--state", "done"], "unknown state 'done'"),
    (["--older-than", "1d", "--user", "jm_nobody_at_all"], "unknown user 'jm_nobody_at_all'"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_changes(queue: jobmagics.Queue,
                                                          queue_dir: Path, args: list[str],
                                                          says: str) -> None:
    queue.add_admin(queue.user)          # so that --user is about the name, not the right
    old_cancelled(queue, queue_dir, 2)
    before = everything(queue_dir)
    done = cli(queue_dir, "prune", *args)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and says in done.stderr, done.stderr
    assert everything(queue_dir) == before


def test_a_member_who_is_no_admin_may_not_prune_anothers_jobs(queue: jobmagics.Queue,
                                                              queue_dir: Path) -> None:
    old_cancelled(queue, queue_dir, 1)
    before = everything(queue_dir)
    done = cli(queue_dir, "prune", "--older-than", "1d", "--user", "someone_else")
    assert done.returncode == 2
    assert done.stderr.strip() == (f"jobmagics: error: {queue.user} may not prune the jobs of"
                                   " someone_else: only a queue admin prunes others' jobs"
                                   " (see `jobmagics admin`)")
    assert everything(queue_dir) == before


def test_prune_without_older_than_is_a_usage_error(queue_dir: Path) -> None:
    done = cli(queue_dir, "prune")
    assert done.returncode == 2 and "--older-than" in done.stderr
    assert len(done.stderr.splitlines()) == 1
