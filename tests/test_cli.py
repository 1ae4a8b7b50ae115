"""The ``jobmagics`` command line, run as a real program."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import jobmagics
from tests.conftest import WorkerProcess


def cli(queue_dir: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobmagics", "--queue", str(queue_dir), *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


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


def cli_bytes(queue_dir: Path, *args: str | bytes, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    """The CLI with raw argv bytes (as a shell passes $'\\xff')."""
    return subprocess.run([sys.executable, "-m", "jobmagics", "--queue", str(queue_dir), *args],
                          capture_output=True, timeout=timeout, check=False)


@pytest.mark.parametrize("args", [
    [b"submit", b"--name", b"fit-\xff", b"--", b"true"], [b"submit", b"--code", b"print(1)  # \xe9"],
    [b"submit", b"--cwd", b"/tmp/\xff", b"--", b"true"], [b"history", b"--user", b"\xff"],
    [b"queue", b"--queue", b"/nonexistent/\xff/q", b"--limit", b"x\xff"],
    [b"submit", b"--env", b"LATIN=\xe9t\xe9", b"--", b"true"],
], ids=["name", "code", "cwd", "history-user", "limit", "env"])
def test_bytes_that_are_not_utf8_give_one_line_and_exit_2(queue_dir: Path, args: list[bytes]) -> None:
    cli(queue_dir, "submit", "--", "true")
    before = jobmagics.Queue(queue_dir).count()
    result = cli_bytes(queue_dir, *args)
    assert result.returncode == 2, result
    assert result.stderr.count(b"\n") == 1 and b"Traceback" not in result.stderr, result.stderr
    assert jobmagics.Queue(queue_dir).count() == before


def test_a_binary_file_is_not_python_code(queue_dir: Path, tmp_path: Path) -> None:
    binary = tmp_path / "program.py"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00\xd0\xff" * 10)
    result = cli(queue_dir, "submit", "--file", str(binary))
    assert result.returncode == 2 and "is not UTF-8 text (byte 0xd0 at offset 8)" in result.stderr
    assert (result.stderr.count("\n") == 1 and not (queue_dir / "jobs.db").exists()) or \
        jobmagics.Queue(queue_dir).count() == 0


def test_command_arguments_reach_the_job_byte_for_byte(queue_dir: Path, worker: WorkerProcess) -> None:
    """Command arguments are the OS's bytes (a file name need not be UTF-8): kept exactly."""
    job_id = cli_bytes(queue_dir, b"submit", b"--env", b"TEXT=\xc3\xa9t\xc3\xa9", b"--", b"sh", b"-c",
                       b'printf "%s|%s" "$1" "$TEXT"', b"sh", b"caf\xe9").stdout.decode().strip()
    assert cli(queue_dir, "wait", job_id, "--timeout", "30").returncode == 0
    assert (queue_dir / "logs" / f"{job_id}.log").read_bytes() == b"caf\xe9|\xc3\xa9t\xc3\xa9"


@pytest.mark.parametrize("verb", ["cancel", "hold", "release", "retry", "delete"])
def test_a_verb_on_a_good_and_a_bad_id_acts_on_neither(queue_dir: Path, verb: str) -> None:
    goods = [cli(queue_dir, "submit", "--", "true").stdout.strip() for _ in range(2)]
    q = jobmagics.Queue(queue_dir)
    if verb == "release":
        q.apply("hold", goods)
    if verb in ("retry", "delete"):
        q.apply("cancel", goods)
    before = [(j.id, j.state, j.last_read.held) for j in q.jobs()]
    result = cli(queue_dir, verb, goods[0], "JOB-20000101-00001", goods[1])
    assert result.returncode == 2 and "JOB-20000101-00001" in result.stderr and result.stdout == ""
    assert [(j.id, j.state, j.last_read.held) for j in q.jobs()] == before
    done = cli(queue_dir, verb, *goods)                     # several good ids: every one
    assert done.returncode == 0 and [line.split()[0] for line in done.stdout.splitlines()] == goods


@pytest.mark.parametrize("args", [["queue"], ["history"], ["stats"], ["queue", "--json"], ["status", "{id}"],
                                  ["cancel", "{id}"], ["submit", "--", "true"], ["logs", "{id}"]])
def test_queue_is_accepted_after_the_subcommand_too(tmp_path: Path, args: list[str]) -> None:
    folder = tmp_path / "elsewhere"
    job = jobmagics.Queue(folder).submit(command=["true"])
    argv = [a.format(id=job.id) for a in args]
    after = subprocess.run([sys.executable, "-m", "jobmagics", *argv[:1], "--queue", str(folder), *argv[1:]],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
                           env={**os.environ, "JOBMAGICS_QUEUE": str(tmp_path / "default")})
    assert after.returncode == 0, after.stderr
    assert not (tmp_path / "default").exists()             # it used the folder given, not the default
    # before the subcommand it still works, and a subcommand without --queue does not reset it
    before = subprocess.run([sys.executable, "-m", "jobmagics", "--queue", str(folder), *argv],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
                            env={**os.environ, "JOBMAGICS_QUEUE": str(tmp_path / "default")})
    assert before.returncode in (0, 2) and not (tmp_path / "default").exists()


def test_the_queue_shows_a_first_page_and_says_how_many_more(queue_dir: Path) -> None:
    q = jobmagics.Queue(queue_dir)
    q.submit_many([{"command": ["true"]}] * 60 + [{"command": ["true"], "hold": True}] * 5)
    table = cli(queue_dir, "queue").stdout.splitlines()
    assert len(table) == 1 + 50 + 1 and table[-1].startswith("... and 10 more pending, 5 more waiting")
    assert len(cli(queue_dir, "queue", "--all").stdout.splitlines()) == 1 + 65
    short = cli(queue_dir, "queue", "--limit", "3", "--json")
    assert len(json.loads(short.stdout)) == 3 and "57 more pending, 5 more waiting" in short.stderr
    assert cli(queue_dir, "queue", "--limit", "-1").returncode == 2


def test_history_limit_says_there_are_older_ones(queue_dir: Path) -> None:
    q = jobmagics.Queue(queue_dir)
    q.apply("cancel", [j.id for j in q.submit_many([{"command": ["true"]}] * 3)])
    lines = cli(queue_dir, "history", "--limit", "2").stdout.splitlines()
    assert len(lines) == 1 + 2 + 1 and lines[-1].startswith("... and older ones")
    assert len(cli(queue_dir, "history", "--limit", "3").stdout.splitlines()) == 1 + 3


FOLLOWED = (b"printf 'one \\377\\376 two\\n'; sleep 1; printf '0123456789\\n'; sleep 1;"
            b" printf '\\303'; sleep 1; printf '\\251t\\303\\251\\n'")


def test_logs_follow_prints_the_exact_bytes_with_invalid_ones_replaced(queue_dir: Path, worker: WorkerProcess) -> None:
    """Bad bytes once advanced the offset by their 3-byte replacement (later output lost) and a
    character split between two reads came out as two replacement characters."""
    job_id = cli_bytes(queue_dir, b"submit", b"--", b"sh", b"-c", FOLLOWED).stdout.decode().strip()
    followed = cli_bytes(queue_dir, b"logs", b"-f", job_id.encode())
    assert followed.returncode == 0
    assert followed.stdout == "one \ufffd\ufffd two\n0123456789\nété\n".encode()
    assert cli_bytes(queue_dir, b"logs", job_id.encode()).stdout == followed.stdout


def _status_rows(queue_dir: Path, job_id: str) -> list[tuple[str, str]]:
    """(label, value) of each line of ``status ID`` above its state history."""
    head = cli(queue_dir, "status", job_id).stdout.split("\n\n")[0]
    return [tuple(line.lstrip().split("  ", 1)) for line in head.splitlines()]  # type: ignore[misc]


def test_status_shows_after_its_rows_each_setting_that_is_not_its_default(queue_dir: Path) -> None:
    plain = cli(queue_dir, "submit", "--", "echo", "a b").stdout.strip()
    delayed = cli(queue_dir, "submit", "--retry-delay", "5", "--", "true").stdout.strip()
    rows = _status_rows(queue_dir, plain)
    assert rows[-2:] == [("runs", "echo 'a b'"), ("log", str(jobmagics.Queue(queue_dir).get(plain).log_path))]
    assert [label for label, _ in _status_rows(queue_dir, delayed)] == [label for label, _ in rows] + ["retry_delay"]
    assert _status_rows(queue_dir, delayed)[-1] == ("retry_delay", "5.0")
