"""Fixtures for the server extension tests: a jupyter_server (pytest_jupyter) with the
jobmagics extension on a fresh queue, a second real Unix user, and a worker."""
from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# pytest_jupyter's fixtures (jp_fetch, jp_serverapp, ...), for this folder only. A
# `pytest_plugins` line is only allowed in the rootdir's conftest, which is not ours.
from pytest_jupyter.jupyter_server import *
from traitlets.config import Config

import jobmagics

ROOT = Path(__file__).resolve().parents[2]
OTHER_USER = "jmtest_alice"


LAB_GROUP = "jmtest_lab"


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
    if os.geteuid() != 0:
        return None
    try:
        grp.getgrnam(LAB_GROUP)
    except KeyError:
        subprocess.run(["groupadd", LAB_GROUP], check=True)
    return LAB_GROUP


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
    """A second real Unix account in the lab group (created when missing: the suite runs
    as root in CI)."""
    if lab_group is None:
        pytest.fail(f"the permission tests need a second Unix user {OTHER_USER!r}: run the "
                    "suite as root (it creates one)")
    try:
        pwd.getpwnam(OTHER_USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        "--groups", lab_group, OTHER_USER], check=True)
    if OTHER_USER not in grp.getgrnam(lab_group).gr_mem:
        subprocess.run(["usermod", "-aG", lab_group, OTHER_USER], check=True)
    return OTHER_USER


# Runs as root, imports everything, then becomes the other user for real (setgid/setuid)
# before opening the queue: the venv's interpreter may live where that user cannot exec it
# (e.g. under /root/.pyenv), so `runuser -- python` is not an option everywhere.
SUBMIT_AS = """
import json, os, pwd, sys
import jobmagics, jobmagics.client, jobmagics.store, jobmagics.model, jobmagics.paths
entry = pwd.getpwnam(sys.argv[1])
os.setgroups(os.getgrouplist(entry.pw_name, entry.pw_gid))
os.setgid(entry.pw_gid)
os.setuid(entry.pw_uid)
os.environ["HOME"] = "/"
q = jobmagics.Queue(sys.argv[2])
print(q.submit(**json.loads(sys.argv[3])).id)
"""


@pytest.fixture
def submit_as(other_user: str) -> Callable[..., str]:
    """Submit a job as the other user: ``submit_as(queue_dir, command=[...])`` -> job id."""

    def submit(queue_dir: Path, **spec: Any) -> str:
        result = subprocess.run(
            [sys.executable, "-c", SUBMIT_AS, other_user, str(queue_dir), json.dumps(spec)],
            capture_output=True, text=True, cwd="/", timeout=60, check=False)
        assert result.returncode == 0, f"submit as {other_user} failed:\n{result.stderr}"
        job_id = result.stdout.strip()
        assert jobmagics.Queue(queue_dir).get(job_id).user == other_user
        return job_id

    return submit


@pytest.fixture
def server_worker(server_queue: Path, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real worker process (2 slots) on the server's queue."""
    with open(tmp_path / "worker.log", "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "kernel_worker", "--queue", str(server_queue), "--slots", "2"],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    q = jobmagics.Queue(server_queue)
    deadline = time.monotonic() + 20
    while not any(w["pid"] == process.pid for w in q.workers(alive_only=False)):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("the worker did not start:\n" + (tmp_path / "worker.log").read_text())
        time.sleep(0.02)
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
