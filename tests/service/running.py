"""A system queue and its service as real processes, for the tests of both sharing modes.

``make_system_queue`` prepares the folder with ``sudo jobmagics init DIR --system`` (the
database is made then, root's, 0600).
``ServiceProcess`` runs the queue's service as a real root process, ``jobmagics service
--queue DIR``: the socket on which members' clients reach it and, in the same process, the
worker of every user's jobs. Root only, like every test with real accounts."""
from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jobmagics
from jobmagics.paths import QueueLayout
from tests.accounts import as_account

HELD = {"command": ["sleep", "60"], "cwd": "/tmp", "hold": True}     # a job that stays put
SECRET = "s3cret-token-of-alice"


@dataclass(frozen=True)
class Lab:
    """Who is who: the lab group, two of its members, and an account outside it."""

    group: str
    alice: str
    bob: str
    outsider: str


def make_system_queue(folder: Path, group: str, admins: Sequence[str] = ()) -> Path:
    """A system queue at ``folder`` (its parent must let the accounts in), database made:
    ``sudo jobmagics init DIR --system --group G [--admin U]...``."""
    made = subprocess.run([sys.executable, "-m", "jobmagics", "init", str(folder), "--system",
                           "--group", group, *(f"--admin={user}" for user in admins)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert made.returncode == 0, made.stderr
    return folder


class ServiceProcess:
    """The service of the system queue at ``root``, started as root; its output in ``log``."""

    def __init__(self, root: Path, log: Path, *, slots: int = 2,
                 resources: Sequence[str] = ("hardware=1",)) -> None:
        self.root, self.log = root, log
        self.argv = [sys.executable, "-m", "jobmagics", "service", "--queue", str(root),
                     "--slots", str(slots), "--no-kernel",
                     *(f"--resource={resource}" for resource in resources)]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        """Start it; returns once its socket answers and its worker is registered."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                            cwd="/", start_new_session=True)
        queue = jobmagics.Queue(self.root)
        deadline = time.monotonic() + timeout
        while not (self._answers() and self._worker_registered(queue)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the service of {self.root} did not start:\n{self.output()}")
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        return QueueLayout(self.root).socket.exists()

    def _worker_registered(self, queue: jobmagics.Queue) -> bool:
        assert self.process is not None
        return any(w["pid"] == self.process.pid for w in queue.workers())

    def kill(self) -> None:
        """SIGKILL of the service alone: no clean-up at all (its socket file stays behind, its
        worker's registration and running jobs stay in the database)."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(30)

    def stop(self, timeout: float = 60.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else "(no log)"


def run_as(user: str, code: str, *args: str, env: dict[str, str] | None = None,
           timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code *args`` as ``user`` (the accounts' runtime), from /tmp."""
    return subprocess.run(as_account(user, "-c", code, *args, env=env), capture_output=True,
                          text=True, cwd="/tmp", timeout=timeout, check=False)


def cli_as(user: str, queue: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """``jobmagics --queue QUEUE *argv`` as ``user``."""
    return subprocess.run(as_account(user, "-m", "jobmagics", "--queue", str(queue), *argv),
                          capture_output=True, text=True, cwd="/tmp", timeout=60, check=False)


def snapshot(q: jobmagics.Queue) -> dict[str, Any]:
    """Everything an attack could change, read by root straight from the database."""
    jobs = {r.id: dataclasses.asdict(r) for r in q.store.find(limit=None)}
    return {"jobs": jobs, "results": {i: q.store.result(i) for i in jobs},
            "admins": q.admins(), "operators": q.operators(),
            "allowed": q.allowed_experiments(), "paused": q.stats()["paused"],
            "resources": q.store.resources()}
