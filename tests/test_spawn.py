"""``kernel_worker.spawn``: starting a real worker process, and saying why when it cannot."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import jobmagics
from kernel_worker import WorkerHandle, spawn
from tests.conftest import ROOT, wait_for


@pytest.fixture
def handles() -> Iterator[list[WorkerHandle]]:
    """Workers a test started; whatever is left is killed at its end."""
    started: list[WorkerHandle] = []
    yield started
    for handle in started:
        handle.kill()


@contextlib.contextmanager
def write_lock_held(queue: jobmagics.Queue) -> Iterator[None]:
    """Another connection holds the queue's write lock: no worker can register meanwhile."""
    holder = sqlite3.connect(queue.layout.db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def registered_pids(queue: jobmagics.Queue) -> set[int]:
    return {w["pid"] for w in queue.workers(alive_only=False)}


def gone(pid: int) -> bool:
    return not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_spawn_returns_once_the_worker_is_registered(queue: jobmagics.Queue,
                                                     handles: list[WorkerHandle]) -> None:
    handle = spawn(queue, "--no-kernel", "--slots", "3")
    handles.append(handle)
    assert handle.alive and handle.pid in registered_pids(queue)
    assert next(w for w in queue.workers() if w["pid"] == handle.pid)["slots"] == 3
    assert handle.stop() == 0
    assert handle.pid not in registered_pids(queue), "SIGTERM is a clean stop: it deregistered"


def test_the_log_is_a_new_file_in_the_queues_logs_folder_by_default(
        queue: jobmagics.Queue, handles: list[WorkerHandle]) -> None:
    handle = spawn(queue, "--no-kernel")
    handles.append(handle)
    assert handle.log_path.parent == queue.layout.root / "logs"
    handle.stop()
    assert "serving" in handle.output()


def test_a_queue_given_by_a_path_the_worker_creates_is_waited_for(
        tmp_path: Path, handles: list[WorkerHandle]) -> None:
    folder = tmp_path / "not-yet-a-queue"
    handle = spawn(str(folder), "--no-kernel", log=tmp_path / "worker.log")
    handles.append(handle)
    assert handle.pid in registered_pids(jobmagics.Queue(folder))
    assert handle.queue.path == folder


def test_a_worker_that_fails_to_start_raises_no_worker_with_its_last_line(
        queue: jobmagics.Queue, tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with pytest.raises(jobmagics.NoWorker) as raised:
        spawn(queue, "--resource", "hardware=many", log=log)
    message = str(raised.value)
    assert "exited with status 2" in message
    assert "resource units in 'hardware=many': give a number of units" in message
    assert str(log) in message and "\n" not in message


def test_a_queue_path_that_is_a_file_raises_no_worker_naming_a_log_that_says_why(
        tmp_path: Path) -> None:
    not_a_folder = tmp_path / "queue"
    not_a_folder.write_text("")
    with pytest.raises(jobmagics.NoWorker) as raised:
        spawn(not_a_folder)
    message = str(raised.value)
    assert "is not a folder" in message
    named = re.search(r"\(log: (.+)\)$", message)
    assert named is not None, message
    log = Path(named.group(1))
    try:
        assert "is not a folder" in log.read_text().strip().splitlines()[-1]
    finally:
        log.unlink()


def test_wait_false_returns_before_the_worker_registers(queue: jobmagics.Queue,
                                                        handles: list[WorkerHandle]) -> None:
    with write_lock_held(queue):
        handle = spawn(queue, "--no-kernel", wait=False)
        handles.append(handle)
        assert handle.alive and not handle.registered()
    handle.wait_registered()
    assert handle.pid in registered_pids(queue)


def test_a_worker_that_does_not_register_in_time_is_stopped_and_reported(
        queue: jobmagics.Queue, handles: list[WorkerHandle]) -> None:
    with write_lock_held(queue):
        handle = spawn(queue, "--no-kernel", wait=False)
        handles.append(handle)
        with pytest.raises(jobmagics.NoWorker, match=r"did not register within 1 s and was stopped"):
            handle.wait_registered(timeout=1.0)
        assert not handle.alive
    assert handle.pid not in registered_pids(queue)


def test_a_drained_worker_that_exits_0_is_not_an_error(queue: jobmagics.Queue) -> None:
    handle = spawn(queue, "--drain", "--no-kernel")
    assert handle.process.wait(60) == 0


def test_new_session_starts_the_worker_in_a_session_of_its_own(
        queue: jobmagics.Queue, handles: list[WorkerHandle]) -> None:
    handle = spawn(queue, "--no-kernel", new_session=True)
    handles.append(handle)
    assert os.getsid(handle.pid) == handle.pid != os.getsid(0)


PARENT = """
import sys
from kernel_worker import spawn
worker = spawn(sys.argv[1], "--no-kernel", tie_to_parent=True)
print(worker.pid, flush=True)
sys.stdin.read()
"""


def test_tie_to_parent_stops_the_worker_when_its_parent_dies(queue: jobmagics.Queue) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(queue.path)], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert parent.stdin is not None and parent.stdout is not None
    pid = int(parent.stdout.readline())
    try:
        assert pid in registered_pids(queue)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        wait_for(lambda: gone(pid), timeout=60)
        assert pid not in registered_pids(queue), "it got SIGTERM: a clean stop"
    finally:
        if not gone(pid):
            os.kill(pid, signal.SIGKILL)
        parent.stdin.close()
        parent.stdout.close()
