"""Scenario 5a: the queue's filesystem turns read-only, or fills up."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import jobmagics
from tests.conftest import AS_ROOT, WorkerProcess, set_read_only, wait_for
from tests.reliability.invariants import check_invariants, figure


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """``mount("8m")``: a small tmpfs of that size, unmounted at the end (root only)."""
    mounted: list[Path] = []

    def make(size: str) -> Path:
        if not AS_ROOT:
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
    return mount(size) if AS_ROOT else tmp_path / "ro"


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
        opened = jobmagics.Queue(folder / "queue")              # opening only reads
        assert opened.count() == len(before)
        with pytest.raises(jobmagics.JobmagicsError) as opened_after:
            opened.submit(command=["true"])
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


def run_and_wait(q: jobmagics.Queue, job_id: str, states: set[str], timeout: float = 60) -> jobmagics.Job:
    job = q.get(job_id)
    wait_for(lambda: job.refresh().state in states, timeout)
    return job


def test_a_job_that_fills_the_disk_fails_and_the_worker_carries_on(
        mount: Callable[[str], Path], tmp_path: Path) -> None:
    folder = mount("4m")
    q = jobmagics.Queue(folder / "queue")
    filler = q.submit(command=["yes"])                           # stops by itself at ENOSPC
    with worker_on(folder / "queue", tmp_path) as worker:
        failed = run_and_wait(q, filler.id, {"failed", "completed"})
        assert failed.state == "failed" and "disk full while writing its log" in (failed.error or ""), failed.error
        later = q.submit(command=["echo", "done"])               # the reserve the worker freed takes it
        time.sleep(2)                                            # the disk is still full
        assert worker.process.poll() is None, worker.output()[-2000:]
        assert any(w["pid"] == worker.pid for w in q.workers())       # alive and registered
        assert q.get(later.id).state == "pending"                # pending jobs wait
        q.layout.log(filler.id).unlink()                         # the user makes room
        assert run_and_wait(q, later.id, {"completed", "failed"}).state == "completed"
        assert worker.process.poll() is None
    figure("a job fills the disk: its error", str(failed.error))


def test_a_job_that_keeps_writing_to_a_full_disk_is_stopped_and_retried_if_it_may(
        mount: Callable[[str], Path], tmp_path: Path) -> None:
    folder = mount("4m")
    q = jobmagics.Queue(folder / "queue")
    writer = q.submit(command=["sh", "-c", "while :; do echo a line of output; done"], retries=1)
    with worker_on(folder / "queue", tmp_path) as worker:
        wait_for(lambda: q.get(writer.id).attempt == 2, 60)      # stopped and given back
        job = q.get(writer.id)
        assert job.state == "pending", job.state                 # and not claimed while full
        assert any("disk full while writing its log" in (e["detail"] or "") for e in q.events(writer.id))
        time.sleep(1)
        assert q.get(writer.id).state == "pending" and worker.process.poll() is None
        q.cancel(writer.id)


READS = [["queue"], ["history"], ["stats"], ["status", "{id}"], ["logs", "{id}"]]


@pytest.mark.parametrize("trouble", ["full", "read-only"])
def test_every_read_command_answers_on_a_full_or_read_only_disk(
        mount: Callable[[str], Path], tmp_path: Path, trouble: str) -> None:
    folder = mount("4m")
    q = jobmagics.Queue(folder / "queue")
    job = q.submit(command=["echo", "hello from the job"])
    with worker_on(folder / "queue", tmp_path):
        assert run_and_wait(q, job.id, {"completed"}).state == "completed"
    q.store.close()                   # no process keeps the -shm file: a reader must do without
    if trouble == "full":
        fill(folder)
    else:
        set_read_only(folder, True)
    try:
        answers = {args[0]: cli(folder / "queue", *(a.format(id=job.id) for a in args)) for args in READS}
        write = cli(folder / "queue", "submit", "--", "true")
    finally:
        if trouble == "read-only":
            set_read_only(folder, False)
    for name, answer in answers.items():
        assert answer.returncode == 0, (name, answer.stderr)
    assert job.id in answers["history"].stdout and "hello from the job" in answers["logs"].stdout
    assert write.returncode == 2 and ("full" if trouble == "full" else "read-only") in write.stderr, write.stderr
