"""Scenario 5a: the queue's filesystem turns read-only, or fills up."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import jobmagics
from tests.conftest import WorkerProcess, wait_for
from tests.reliability.invariants import check_invariants, figure

ROOT = os.getuid() == 0


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """``mount("8m")``: a small tmpfs of that size, unmounted at the end (root only)."""
    mounted: list[Path] = []

    def make(size: str) -> Path:
        if not ROOT:
            pytest.skip("mounting a small filesystem needs root (CI runs the suite as root)")
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(point)], check=True)
        mounted.append(point)
        return point

    yield make
    for point in reversed(mounted):
        with contextlib.suppress(subprocess.CalledProcessError):
            subprocess.run(["mount", "-o", "remount,rw", str(point)], check=True, capture_output=True)
        subprocess.run(["umount", "-l", str(point)], check=False)


def set_read_only(folder: Path, read_only: bool) -> None:
    """Read-only for everyone: a remount when root (root ignores modes), else file modes."""
    if ROOT:
        subprocess.run(["mount", "-o", f"remount,{'ro' if read_only else 'rw'}", str(folder)], check=True)
        return
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222 if read_only else mode | 0o200)


def cli(queue_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobmagics", "--queue", str(queue_dir), *args],
                          capture_output=True, text=True, timeout=120, check=False)


@contextlib.contextmanager
def worker_on(queue_dir: Path, tmp_path: Path) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(queue_dir, ["--slots", "2", "--no-kernel"], tmp_path / "worker.log")
    try:
        yield worker
    finally:
        worker.stop()


def queue_folder(mount: Callable[[str], Path], tmp_path: Path, size: str) -> Path:
    return mount(size) if ROOT else tmp_path / "ro"


def test_a_read_only_queue_gives_a_clear_error_and_loses_nothing(
        mount: Callable[[str], Path], tmp_path: Path) -> None:
    folder = queue_folder(mount, tmp_path, "64m")
    q = jobmagics.Queue(folder / "queue")
    before = [j.id for j in q.submit_many([{"command": ["true"]}] * 20)]
    q.store.close()        # the kernel refuses a read-only remount while a file is open for writing
    set_read_only(folder, True)
    try:
        with pytest.raises(jobmagics.JobmagicsError) as opened_before:
            q.submit(command=["true"])                          # a Queue made before the change
        with pytest.raises(jobmagics.JobmagicsError) as opened_after:
            jobmagics.Queue(folder / "queue")
        refused = cli(folder / "queue", "submit", "--", "true")
    finally:
        set_read_only(folder, False)
    for error in (opened_before.value, opened_after.value, refused.stderr):
        assert "read-only" in str(error), error                # the cause, not a guess at permissions
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    figure("read-only queue: the error a user sees", str(opened_before.value))
    with worker_on(folder / "queue", tmp_path):
        for job_id in before:
            assert q.get(job_id).wait(60).state == "completed"
    check_invariants(q, before, slots=2)


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with open(filler, "wb") as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    return filler


def test_a_full_disk_refuses_submissions_with_a_clear_error_and_changes_nothing(
        mount: Callable[[str], Path], tmp_path: Path) -> None:
    folder = mount("4m")
    q = jobmagics.Queue(folder / "queue")
    kept = [j.id for j in q.submit_many([{"command": ["true"]}] * 50)]
    filler = fill(folder)
    errors = []
    for _ in range(3):                 # a bulk submit big enough to need new pages
        with pytest.raises(jobmagics.QueueError) as refused:
            q.submit_many([{"command": ["true"], "env": {"PAD": "x" * 1000}}] * 2000)
        errors.append(str(refused.value))
    assert "full" in errors[0], errors[0]
    assert q.count() == len(kept) and q.store.integrity_check() == "ok"
    refused_cli = cli(folder / "queue", "submit", "--", "sh", "-c", "x" * 100000)
    filler.unlink()
    assert refused_cli.returncode in (0, 2) and "Traceback" not in refused_cli.stderr, refused_cli.stderr
    after = q.submit(command=["true"])
    with worker_on(folder / "queue", tmp_path):
        wait_for(lambda: q.count(state=["pending", "running"]) == 0, 120)
    ids = kept + [after.id] + ([refused_cli.stdout.strip()] if refused_cli.returncode == 0 else [])
    check_invariants(q, ids, slots=2)
    figure("disk full: the error a user sees", errors[0])
