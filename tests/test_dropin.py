"""``jobmagics.run`` behaves like ``subprocess.run``."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from tests.conftest import WorkerProcess, wait_for

CASES: list[tuple[list[str] | str, dict[str, Any]]] = [
    (["sh", "-c", "echo out; echo err >&2; exit 4"], {"capture_output": True}),
    (["sh", "-c", "echo out; echo err >&2"], {"capture_output": True, "text": True}),
    (["sh", "-c", "echo out; echo err >&2"], {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}),
    (["cat"], {"input": "fed through stdin\n", "capture_output": True, "text": True}),
    (["sh", "-c", "echo $GREETING"], {"env": {"GREETING": "hello", "PATH": "/usr/bin:/bin"}, "capture_output": True}),
    ("echo shell $((1 + 2))", {"shell": True, "capture_output": True, "text": True}),
    (["true"], {}),
    (["sh", "-c", "exit 7"], {}),
]


@pytest.mark.parametrize("args, kwargs", CASES)
def test_run_returns_what_subprocess_run_returns(args: Any, kwargs: dict[str, Any], worker: WorkerProcess, tmp_path: Path) -> None:
    expected = subprocess.run(args, cwd=tmp_path, check=False, **kwargs)
    got = jobmagics.run(args, cwd=tmp_path, **kwargs)
    assert isinstance(got, subprocess.CompletedProcess)
    assert (got.returncode, got.stdout, got.stderr) == (expected.returncode, expected.stdout, expected.stderr)


def test_check_raises_called_process_error_like_subprocess(worker: WorkerProcess) -> None:
    with pytest.raises(subprocess.CalledProcessError) as info:
        jobmagics.run(["sh", "-c", "echo bad >&2; exit 2"], check=True, capture_output=True)
    assert info.value.returncode == 2 and info.value.stderr == b"bad\n"


def test_timeout_raises_timeout_expired_like_subprocess(worker: WorkerProcess) -> None:
    with pytest.raises(subprocess.TimeoutExpired):
        jobmagics.run(["sleep", "30"], timeout=0.5)


def test_a_missing_program_raises_file_not_found_like_subprocess(worker: WorkerProcess) -> None:
    with pytest.raises(FileNotFoundError):
        jobmagics.run(["no-such-program-xyz"])


def test_wait_false_returns_the_job(worker: WorkerProcess) -> None:
    job = jobmagics.run(["true"], wait=False, name="later")
    assert isinstance(job, jobmagics.Job) and job.name == "later"
    assert job.wait(30).state == "completed"


def test_dry_run_runs_nothing_and_says_what_would_run(queue: jobmagics.Queue, capsys: pytest.CaptureFixture[str]) -> None:
    result = jobmagics.run(["rm", "-rf", "/tmp/precious"], dry_run=True)
    assert result.returncode == 0
    assert "would queue rm -rf /tmp/precious" in capsys.readouterr().err
    assert queue.count() == 0


def test_on_a_shared_queue_without_a_worker_run_says_one_is_needed(queue: jobmagics.Queue) -> None:
    with pytest.raises(jobmagics.NoWorker, match="jobmagics worker --queue"):
        jobmagics.run(["true"])
    assert queue.count() == 0


def test_on_the_personal_default_queue_run_starts_a_background_worker_for_this_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOBMAGICS_QUEUE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    result = jobmagics.run([sys.executable, "-c", "print('auto')"], capture_output=True, text=True)
    assert result.stdout == "auto\n"
    q = jobmagics.Queue()
    [worker] = q.workers()
    assert worker["only_user"] == q.user
    import os
    import signal
    os.kill(worker["pid"], signal.SIGTERM)
    wait_for(lambda: not q.workers(), 20)


def test_on_the_personal_queue_run_outlives_the_death_of_its_background_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The auto-started worker dies mid-job (OOM killer, say) with no other worker: run() does
    not wait forever on a job that stays "running"; it starts a worker, which requeues the job."""
    import os
    import signal
    import threading
    monkeypatch.delenv("JOBMAGICS_QUEUE", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    marker = tmp_path / "attempts"
    script = f"echo x >> {marker}; n=$(wc -l < {marker}); [ $n -ge 2 ] || sleep 60; echo attempt $n"
    results: list[Any] = []
    runner = threading.Thread(target=lambda: results.append(
        jobmagics.run(["sh", "-c", script], capture_output=True, text=True, retries=1)))
    runner.start()
    q = jobmagics.Queue()
    wait_for(lambda: marker.exists(), 60)
    [first] = q.workers()
    os.kill(first["pid"], signal.SIGKILL)
    runner.join(120)
    assert not runner.is_alive() and results[0].stdout == "attempt 2\n"
    [second] = q.workers()
    assert second["pid"] != first["pid"]
    os.kill(second["pid"], signal.SIGTERM)
    wait_for(lambda: not q.workers(), 20)
