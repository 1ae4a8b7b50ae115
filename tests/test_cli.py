"""The ``jobmagics`` command line, run as a real program."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import jobmagics
from tests.conftest import WorkerProcess


def cli(queue_dir: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobmagics", "--queue", str(queue_dir), *args],
                          capture_output=True, text=True, timeout=timeout)


def test_submit_prints_only_the_job_id(queue_dir: Path) -> None:
    result = cli(queue_dir, "submit", "--name", "hello", "--", "echo", "hi")
    assert result.returncode == 0
    assert result.stdout.strip() == jobmagics.Queue(queue_dir).queue()[0].id and result.stdout.count("\n") == 1


def test_a_submitted_command_runs_and_its_log_status_and_wait_agree(queue_dir: Path, worker: WorkerProcess) -> None:
    job_id = cli(queue_dir, "submit", "--", "sh", "-c", "echo from-the-job").stdout.strip()
    assert cli(queue_dir, "wait", job_id, "--timeout", "30").returncode == 0
    assert cli(queue_dir, "logs", job_id).stdout == "from-the-job\n"
    status = cli(queue_dir, "status", job_id)
    assert "completed" in status.stdout and "running" in status.stdout  # the events are listed
    data = json.loads(cli(queue_dir, "status", job_id, "--json").stdout)
    assert data["state"] == "completed" and [e["state"] for e in data["events"]] == ["pending", "running", "completed"]


def test_wait_exits_nonzero_unless_every_job_completed(queue_dir: Path, worker: WorkerProcess) -> None:
    ok = cli(queue_dir, "submit", "--", "true").stdout.strip()
    bad = cli(queue_dir, "submit", "--", "false").stdout.strip()
    result = cli(queue_dir, "wait", ok, bad, "--timeout", "30")
    assert result.returncode == 1 and f"{bad} failed" in result.stderr


def test_code_and_file_submissions_become_python_jobs(queue_dir: Path, tmp_path: Path) -> None:
    script = tmp_path / "analysis.py"
    script.write_text("print('analysed')\n")
    from_file = cli(queue_dir, "submit", "--file", str(script)).stdout.strip()
    from_code = cli(queue_dir, "submit", "--code", "print(2)").stdout.strip()
    q = jobmagics.Queue(queue_dir)
    assert q.get(from_file).kind == "python" and q.get(from_file).name == "analysis.py"
    assert q.get(from_code).record.code == "print(2)"


def test_listings_have_json_for_scripts(queue_dir: Path) -> None:
    cli(queue_dir, "submit", "--priority", "3", "--", "true")
    rows = json.loads(cli(queue_dir, "queue", "--json").stdout)
    assert rows[0]["priority"] == 3 and rows[0]["state"] == "pending"
    assert json.loads(cli(queue_dir, "history", "--json").stdout) == []
    assert json.loads(cli(queue_dir, "stats", "--json").stdout)["states"]["pending"] == 1
    assert "pending" in cli(queue_dir, "queue").stdout


def test_hold_release_cancel_and_retry_from_the_command_line(queue_dir: Path) -> None:
    job_id = cli(queue_dir, "submit", "--", "true").stdout.strip()
    assert cli(queue_dir, "hold", job_id).returncode == 0
    assert json.loads(cli(queue_dir, "status", job_id, "--json").stdout)["held"] is True
    assert cli(queue_dir, "release", job_id).returncode == 0
    assert cli(queue_dir, "cancel", job_id).stdout.strip() == f"{job_id} cancelled"
    assert "pending" in cli(queue_dir, "retry", job_id).stdout
    assert cli(queue_dir, "pause", "--resource", "hardware").returncode == 0
    assert cli(queue_dir, "resume").returncode == 0


@pytest.mark.parametrize("args", [
    ["status", "JOB-20000101-00001"], ["status", "nonsense"], ["submit", "--priority", "high", "--", "true"],
    ["submit", "--resource", "warp-drive", "--", "true"], ["submit", "--memory", "much", "--", "true"],
    ["submit"], ["submit", "--code", "def (:"], ["submit", "--file", "/no/such/file.py"],
    ["submit", "--env", "NOEQUALS", "--", "true"], ["frobnicate"], ["submit", "--bogus-option", "--", "true"],
    ["cancel", "JOB-20000101-00001"], ["history", "--state", "running"], ["worker", "--slots", "0"],
    ["pause", "--resource", "nope"], ["admin", "add"], ["worker", "--resource", "bad name"],
])
def test_user_mistakes_give_one_line_and_exit_status_2(queue_dir: Path, args: list[str]) -> None:
    cli(queue_dir, "submit", "--", "true")
    before = jobmagics.Queue(queue_dir).count()
    result = cli(queue_dir, *args)
    assert result.returncode == 2, result
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr and "error" in result.stderr
    assert jobmagics.Queue(queue_dir).count() == before


def test_an_unreadable_queue_is_one_line_too(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "jobs.db").write_text("garbage" * 1000)
    result = cli(folder, "queue")
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "damaged" in result.stderr


def test_the_worker_module_and_the_cli_worker_are_the_same_program(queue_dir: Path) -> None:
    cli(queue_dir, "submit", "--", "true")
    result = cli(queue_dir, "worker", "--drain", "--slots", "1")
    assert result.returncode == 0
    assert jobmagics.Queue(queue_dir).history()[0].state == "completed"
