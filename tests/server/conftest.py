"""Fixtures for the server extension tests: a jupyter_server (pytest_jupyter) with the
jobmagics extension on a fresh queue, a second real Unix user, and a worker."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# pytest_jupyter's fixtures (jp_fetch, jp_serverapp, ...), for this folder only. A
# `pytest_plugins` line is only allowed in the rootdir's conftest, which is not ours.
from pytest_jupyter.jupyter_server import *  # noqa: F403 - its fixtures, by name
from traitlets.config import Config

import jobmagics
from kernel_worker import spawn
from tests.accounts import OTHER_USER, ensure_lab_group, ensure_other_user
from tests.accounts import submit_as as submit_as_user

ROOT = Path(__file__).resolve().parents[2]


def open_queue_dir(group: str | None) -> Path:
    """A fresh queue, shared with ``group`` the product's way (`jobmagics init --group`),
    outside root's private pytest tmp so that the other test user can reach it."""
    base = Path(tempfile.mkdtemp(prefix="jobmagics-test-"))
    base.chmod(0o755)
    path = base / "queue"
    if group is None:
        jobmagics.Queue(path)
        return path
    result = subprocess.run([sys.executable, "-m", "jobmagics", "init", str(path), "--group", group],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"jobmagics init failed: {result.stderr}"
    return path


@pytest.fixture(scope="session")
def lab_group() -> str | None:
    """A Unix group shared by the test users (None when not root: no second user then)."""
    return ensure_lab_group()


@pytest.fixture
def server_queue(lab_group: str | None) -> Iterator[Path]:
    """A fresh queue folder, shared with the other test user when running as root."""
    path = open_queue_dir(lab_group)
    yield path
    shutil.rmtree(path.parent, ignore_errors=True)


@pytest.fixture
def jp_server_config(server_queue: Path) -> Config:
    return Config({
        "ServerApp": {"jpserver_extensions": {"jobmagics.server": True}},
        "JobmagicsApp": {"queue": str(server_queue)},
    })


@pytest.fixture
def q(server_queue: Path) -> jobmagics.Queue:
    """The same queue, opened by the test (acting as the server's own user)."""
    return jobmagics.Queue(server_queue)


@pytest.fixture
def api(jp_fetch: Any) -> Callable[..., Any]:
    """``await api("GET", "jobs", params={...})`` -> (status, json); never raises on 4xx/5xx."""

    async def call(method: str, route: str, body: Any = None, params: dict[str, Any] | None = None,
                   raw_body: str | None = None) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"method": method, "raise_error": False}
        if method != "GET":
            kwargs["body"] = raw_body if raw_body is not None else json.dumps(body if body is not None else {})
        response = await jp_fetch("jobmagics", "api", *route.split("/"), params=params or {}, **kwargs)
        text = response.body.decode()
        return response.code, (json.loads(text) if text else None)

    return call


@pytest.fixture(scope="session")
def other_user(lab_group: str | None) -> str:
    """A second real Unix account in the lab group."""
    if lab_group is None:
        pytest.fail(f"the permission tests need a second Unix user {OTHER_USER!r}: run the "
                    "suite as root (it creates one)")
    return ensure_other_user(lab_group)


@pytest.fixture
def submit_as(other_user: str) -> Callable[..., str]:
    """Submit a job as the other user: ``submit_as(queue_dir, command=[...])`` -> job id."""

    def submit(queue_dir: Path, **spec: Any) -> str:
        job_id = submit_as_user(other_user, queue_dir, **spec)
        assert jobmagics.Queue(queue_dir).get(job_id).user == other_user
        return job_id

    return submit


@pytest.fixture
def server_worker(server_queue: Path, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker process (2 slots) on the server's queue."""
    worker = spawn(server_queue, "--slots", "2", log=tmp_path / "worker.log", cwd=ROOT)
    yield worker.process
    worker.stop(timeout=20)


@pytest.fixture
def jobmagics_app(jp_serverapp: Any) -> Any:
    """The running server's ``JobmagicsApp`` (its traits may be changed by a test)."""
    return jp_serverapp.web_app.settings["jobmagics"]


LOCK_HOLDER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.read()          # hold the write lock until the test closes our stdin
conn.execute("COMMIT")
"""


@pytest.fixture
def write_lock(server_queue: Path) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    """``holder = write_lock()``: another process takes the queue's write lock (``BEGIN
    IMMEDIATE``) and keeps it until ``holder.stdin.close()``: no timer decides when."""
    holders: list[subprocess.Popen[str]] = []

    def hold() -> subprocess.Popen[str]:
        holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(server_queue / "jobs.db")],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        holders.append(holder)
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        return holder

    yield hold
    for holder in holders:
        if holder.stdin is not None and not holder.stdin.closed:
            holder.stdin.close()
        try:
            holder.wait(10)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait()
