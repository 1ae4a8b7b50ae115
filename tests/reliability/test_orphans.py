"""Scenario 6: a lost, cancelled or timed-out attempt leaves no process behind, for every kind
of job, whatever its processes did (a child, a ``setsid`` double-forked daemon).

Each job starts writers (``helpers/writer.sh``). A writer holds one shared file lock for as long
as it, or anything it started, lives, and appends ``ATTEMPT ROLE PID TIME`` to one shared file.
A writer that finds the lock taken records a violation: a process of an earlier attempt was
still alive while the next attempt ran. The shared file shows the same from the other side:
no line of attempt 1 follows the first line of attempt 2."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from kernel_worker import proctrack
from tests.accounts import as_account, ensure_lab_group, ensure_other_user
from tests.conftest import WorkerProcess, wait_for
from tests.reliability.invariants import HELPERS

WRITER = str(HELPERS / "writer.sh")
DAEMON = str(HELPERS / "daemon.sh")
BACKENDS = ["cgroup2", "cgroup1", "marks"]


@dataclass
class Writers:
    """The shared folder of one test's writers and what they left in it."""

    root: Path

    def lines(self) -> list[tuple[int, str, int]]:
        path = self.root / "lines"
        rows = [line.split() for line in path.read_text().splitlines()] if path.exists() else []
        return [(int(r[0]), r[1], int(r[2])) for r in rows if len(r) == 4]

    def pids(self, attempt: int | None = None, role: str | None = None) -> list[int]:
        path = self.root / "pids"
        rows = [line.split() for line in path.read_text().splitlines()] if path.exists() else []
        return [int(r[2]) for r in rows if len(r) == 3 and attempt in (None, int(r[0])) and role in (None, r[1])]

    def violations(self) -> list[str]:
        path = self.root / "violations"
        return path.read_text().splitlines() if path.exists() else []

    def wrote(self, attempt: int, role: str) -> bool:
        return any(a == attempt and r == role for a, r, _ in self.lines())

    def alive(self, attempt: int | None = None) -> list[int]:
        return [pid for pid in self.pids(attempt) if running(pid)]

    def assert_no_overlap(self) -> None:
        assert self.violations() == [], self.violations()
        attempts = [a for a, _, _ in self.lines()]
        assert 2 in attempts, "the second attempt wrote nothing"
        first_of_second = attempts.index(2)
        assert 1 not in attempts[first_of_second:], "attempt 1 kept writing after attempt 2 began"
        assert self.alive(1) == [], f"processes of the lost attempt are still alive: {self.alive(1)}"


def running(pid: int) -> bool:
    """Alive and not a zombie (an exited process nobody reaped yet does nothing)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != b"Z"


@pytest.fixture
def writers(tmp_path: Path) -> Iterator[Writers]:
    root = tmp_path / "writers"
    root.mkdir()
    group = Writers(root)
    yield group
    for pid in group.pids():          # never leave a writer behind, even when a test failed
        if running(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def use_backend(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Workers started from now on track processes with this backend."""
    if name not in proctrack.available_backends():
        pytest.skip(f"{name} process tracking needs cgroups this user may create (root)")
    monkeypatch.setenv(proctrack.BACKEND_VAR, name)


def assert_tracked_with(worker: WorkerProcess, backend: str) -> None:
    assert f"process tracking: {backend} " in worker.output(), worker.output()[-2000:]


def containers(queue: jobmagics.Queue, backend: str) -> list[str]:
    """This queue's containers left on this host (none exist for the marks backend)."""
    return proctrack.Tracker(queue.path, backend).names()


def queue_folder_gone(queue: jobmagics.Queue, backend: str) -> bool:
    tracker = proctrack.Tracker(queue.path, backend)
    return tracker.hierarchy is None or not (tracker.hierarchy.top / tracker.key).exists()


# ---- the jobs ---------------------------------------------------------------------------
def kernel_child_code(root: Path) -> str:
    """The issue's scenario: a python job whose child writes forever (the next attempt: briefly)."""
    return ("import subprocess, jobmagics\n"
            "attempt = jobmagics.current_job().attempt\n"
            f"subprocess.run(['sh', {WRITER!r}, {str(root)!r}, str(attempt), 'child',"
            " '0' if attempt == 1 else '5'])\n")


def command_daemon(root: Path, clear_environment: bool = False) -> list[str]:
    """A command job that starts a daemon, then (attempt 1) waits forever. ``clear_environment``:
    the daemon drops every variable, the attempt's marks too."""
    start = "env -i PATH=/usr/bin:/bin sh" if clear_environment else "sh"
    script = (f'rounds=5; [ "$JOBMAGICS_ATTEMPT" = 1 ] && rounds=0\n'
              f'{start} {DAEMON} {root} "$JOBMAGICS_ATTEMPT" $rounds\n'
              '[ "$JOBMAGICS_ATTEMPT" = 1 ] && exec sleep 600\n'
              'exit 0\n')
    return ["sh", "-c", script]


def function_daemon(root: Path) -> Callable[[], None]:
    daemon, where = DAEMON, str(root)

    def start_daemon_then_wait() -> None:     # defined here: pickled by value
        import os
        import subprocess
        import time
        attempt = os.environ["JOBMAGICS_ATTEMPT"]
        subprocess.run(["sh", daemon, where, attempt, "0" if attempt == "1" else "5"], check=True)
        if attempt == "1":
            time.sleep(600)
    return start_daemon_then_wait


def lost_job_spec(kind: str, root: Path) -> dict[str, Any]:
    spec: dict[str, Any] = {"retries": 2, "retry_delay": 0.05}
    if kind == "fresh kernel":
        return {**spec, "code": kernel_child_code(root)}
    if kind == "persistent kernel":
        return {**spec, "code": kernel_child_code(root), "resources": ["hardware"]}
    if kind == "command daemon":
        return {**spec, "command": command_daemon(root)}
    if kind == "command daemon without marks":
        return {**spec, "command": command_daemon(root, clear_environment=True)}
    return {**spec, "function": function_daemon(root)}


WORKER = ("--slots", "1", "--resource", "hardware", "--grace", "1")
KINDS = ["fresh kernel", "persistent kernel", "command daemon", "function daemon"]
# the marks backend cannot find a daemon that cleared its environment: only cgroups can
LOST = [(b, k) for b in BACKENDS for k in KINDS] + [(b, "command daemon without marks") for b in BACKENDS[:2]]


# ---- lost workers -------------------------------------------------------------------------
@pytest.mark.parametrize(("backend", "kind"), LOST)
def test_a_lost_attempt_leaves_no_process_behind_before_its_job_runs_again(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], writers: Writers,
        monkeypatch: pytest.MonkeyPatch, backend: str, kind: str) -> None:
    use_backend(monkeypatch, backend)
    victim = start_worker(*WORKER)
    job = queue.submit(**lost_job_spec(kind, writers.root))
    role = "child" if "kernel" in kind else "daemon"
    wait_for(lambda: writers.wrote(1, role), timeout=120, interval=0.05)
    assert queue.store.pid_of(job.id)[0] is not None, "the running attempt recorded no pid"
    victim.kill()
    successor = start_worker(*WORKER)
    assert job.wait(180).state == "completed", (job.error, job.events())
    assert job.attempt == 2, job.events()
    writers.assert_no_overlap()
    assert_tracked_with(successor, backend)
    leftovers = [n for n in containers(queue, backend) if n.endswith(".1") or victim_home(victim, n)]
    assert leftovers == [], "the lost attempt's container (or the dead worker's home) was left behind"
    assert successor.stop() == 0
    assert queue_folder_gone(queue, backend), containers(queue, backend)


def victim_home(victim: WorkerProcess, name: str) -> bool:
    return name.startswith("worker.") and f"_{victim.pid}_" in name


# ---- cancel and timeout -------------------------------------------------------------------
def stop_job_spec(kind: str, root: Path) -> dict[str, Any]:
    """A job that starts a daemon and a child, both writing until killed, and waits on the child."""
    if kind == "command":
        return {"command": ["sh", "-c", f"sh {DAEMON} {root} 1 0; sh {WRITER} {root} 1 child 0"]}
    if kind == "kernel":
        return {"code": "import subprocess\n"
                        f"subprocess.run(['sh', {DAEMON!r}, {str(root)!r}, '1', '0'])\n"
                        f"subprocess.run(['sh', {WRITER!r}, {str(root)!r}, '1', 'child', '0'])\n"}
    daemon, writer, where = DAEMON, WRITER, str(root)

    def daemon_and_child() -> None:
        import subprocess
        subprocess.run(["sh", daemon, where, "1", "0"], check=True)
        subprocess.run(["sh", writer, where, "1", "child", "0"], check=True)
    return {"function": daemon_and_child}


STOPS = [("cgroup2", kind, stop) for kind in ("command", "function", "kernel") for stop in ("cancel", "timeout")]
STOPS += [(backend, kind, "cancel") for backend in ("cgroup1", "marks") for kind in ("command", "function", "kernel")]


@pytest.mark.parametrize(("backend", "kind", "stop"), STOPS)
def test_a_cancelled_or_timed_out_job_leaves_no_process_behind(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], writers: Writers,
        monkeypatch: pytest.MonkeyPatch, backend: str, kind: str, stop: str) -> None:
    use_backend(monkeypatch, backend)
    start_worker(*WORKER)
    timeout = (20 if kind == "kernel" else 8) if stop == "timeout" else None
    job = queue.submit(**stop_job_spec(kind, writers.root), timeout=timeout)
    wait_for(lambda: writers.wrote(1, "daemon") and writers.wrote(1, "child"), timeout=120, interval=0.05)
    if stop == "cancel":
        job.cancel()
    final = job.wait(120)
    assert final.state == ("cancelled" if stop == "cancel" else "timeout"), (final.state, final.error)
    # the job ends only once its container is empty: nothing may be alive by now
    assert writers.alive() == [], f"still running after the job ended {final.state}: {writers.alive()}"
    assert not [n for n in containers(queue, backend) if not n.startswith("worker.")]


# ---- the containers themselves -----------------------------------------------------------
FORKER = "while :; do sleep 30 & setsid sh -c 'sleep 30' & sleep 0.01; done"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_container_ends_a_tree_that_keeps_forking_and_is_removed(
        queue: jobmagics.Queue, monkeypatch: pytest.MonkeyPatch, backend: str) -> None:
    use_backend(monkeypatch, backend)
    tracker = proctrack.Tracker(queue.path, backend)
    container = tracker.attempt("JOB-TEST-00001", 1)
    env = dict(os.environ, JOBMAGICS_JOB_ID="JOB-TEST-00001", JOBMAGICS_ATTEMPT="1")
    process = subprocess.Popen(container.command(["sh", "-c", FORKER]), env=env, start_new_session=True)
    container.started(process.pid)
    try:
        wait_for(lambda: len(tree(process.pid)) > 20, timeout=30)
        spawned = tree(process.pid)
        assert container.kill()
        process.wait(10)
        assert [pid for pid in spawned if running(pid)] == []
        assert container.release(stopped=True)
        assert "JOB-TEST-00001.1" not in tracker.names()
    finally:
        process.kill()
        process.wait()


def tree(pid: int) -> list[int]:
    """Every process in the session ``pid`` leads, or that carries the test's marks."""
    import psutil
    found = []
    for candidate in psutil.process_iter(["environ"]):
        with contextlib.suppress(psutil.Error):
            environment = candidate.info["environ"] or {}
            if environment.get("JOBMAGICS_JOB_ID") == "JOB-TEST-00001":
                found.append(candidate.pid)
    return found


def test_auto_chooses_the_best_backend_this_host_offers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(proctrack.BACKEND_VAR, raising=False)
    code = "from kernel_worker import proctrack; print(proctrack.choose_backend())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == proctrack.available_backends()[0]


def test_a_worker_ends_and_removes_containers_that_dead_workers_left(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    use_backend(monkeypatch, "cgroup2")
    tracker = proctrack.Tracker(queue.path, "cgroup2")
    waiting = queue.submit(command=["true"], resources=["hardware"])     # the worker does not serve it
    stale = tracker.attempt(waiting.id, 1)            # as if a dead worker had run it on this host
    leftover = subprocess.Popen(stale.command(["sleep", "600"]), start_new_session=True)
    gone = subprocess.Popen(["true"])
    gone.wait()                                       # a pid no worker has any more
    other_queue = proctrack.Tracker(tmp_path / "another-queue", "cgroup2")
    dead_home = other_queue.home(f"{queue.host}:{gone.pid}:dead")
    assert dead_home.join_path() is not None
    try:
        wait_for(lambda: stale.name in tracker.names(), timeout=30)
        start_worker("--slots", "1", "--no-kernel")
        assert leftover.wait(60) == -signal.SIGKILL
        wait_for(lambda: stale.name not in tracker.names(), timeout=60)
        wait_for(lambda: dead_home.name not in other_queue.names(), timeout=60)
    finally:
        leftover.kill()
        leftover.wait()
        stale.release(stopped=True)
        dead_home.release(stopped=True)
        other_queue.leave("none")


def test_a_worker_that_may_not_use_cgroups_tracks_processes_by_marks(tmp_path: Path) -> None:
    group = ensure_lab_group()
    if group is None:
        pytest.skip("needs root to act as a second, unprivileged account")
    if "cgroup2" not in proctrack.available_backends() and "cgroup1" not in proctrack.available_backends():
        pytest.skip("no cgroups here: every account tracks by marks")
    user = ensure_other_user(group)
    code = "from kernel_worker import proctrack; print(proctrack.available_backends())"
    result = subprocess.run(as_account(user, "-c", code), capture_output=True, text=True, cwd="/",
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['marks']"


def test_recovery_in_one_queue_spares_the_same_job_id_of_another_queue(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], writers: Writers, tmp_path: Path) -> None:
    """Job ids repeat from queue to queue (each has its JOB-<day>-00001): the marks that find a
    lost attempt's processes name its queue too."""
    other_dir = tmp_path / "other-queue"
    other = jobmagics.Queue(other_dir)
    survivor_files = tmp_path / "survivor"
    survivor_files.mkdir()
    bystander = other.submit(command=["sh", WRITER, str(survivor_files), "1", "child", "0"])
    helper = WorkerProcess(other_dir, ["--slots", "1", "--no-kernel"], tmp_path / "other-worker.log")
    survivor = Writers(survivor_files)
    try:
        wait_for(lambda: survivor.wrote(1, "child"), timeout=60, interval=0.05)
        victim = start_worker("--slots", "1", "--no-kernel")
        lost = queue.submit(command=command_daemon(writers.root), retries=2, retry_delay=0.05)
        assert lost.id == bystander.id, "the scenario needs the same job id in both queues"
        wait_for(lambda: writers.wrote(1, "daemon"), timeout=60, interval=0.05)
        victim.kill()
        start_worker("--slots", "1", "--no-kernel")
        assert lost.wait(120).state == "completed", (lost.error, lost.events())
        writers.assert_no_overlap()
        assert survivor.alive(1) != [], "recovery in one queue killed a job of another queue"
        assert other.get(bystander.id).state == "running"
    finally:
        helper.stop()
        for pid in survivor.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
