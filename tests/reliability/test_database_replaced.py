"""Scenario 5c: jobs.db deleted, emptied, replaced or damaged (garbage mid-file), with and
without a worker running on it; ``jobmagics backup`` while workers run; ``init --recover``."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import jobmagics
from jobmagics.errors import DatabaseDamaged, DatabaseMissing
from tests.conftest import WorkerProcess, wait_for
from tests.reliability.invariants import check_invariants, figure

RECOVER = "jobmagics init --recover"


def cli(queue_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jobmagics", "--queue", str(queue_dir), *args],
                          capture_output=True, text=True, timeout=300, check=False)


def refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 2 with one line naming what happened and the recovery command."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    for word in (*words, RECOVER):
        assert word in result.stderr, result.stderr


def number(job_id: str) -> tuple[str, int]:
    _, day, n = job_id.split("-")
    return day, int(n)


def a_queue_with_history(queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> list[str]:
    """Ten jobs that ran (they left logs) and five still pending; no process holds the db."""
    ran = [j.id for j in queue.submit_many([{"command": ["echo", "ran"]}] * 10)]
    worker = start_worker("--slots", "2", "--no-kernel", "--drain")
    assert worker.process.wait(120) == 0, worker.output()
    pending = [j.id for j in queue.submit_many([{"command": ["true"]}] * 5)]
    queue.store.close()
    return ran + pending


@pytest.mark.parametrize("how", ["delete", "truncate"])
def test_a_missing_or_empty_database_is_refused_and_never_recreated(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], how: str) -> None:
    old = a_queue_with_history(queue, start_worker)
    db = queue.layout.db
    if how == "delete":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    else:
        os.truncate(db, 0)
    what = "missing" if how == "delete" else "empty"
    told = cli(queue.path, "submit", "--", "true")
    refused(told, what)
    refused(cli(queue.path, "queue"), what)
    with pytest.raises(DatabaseMissing):
        jobmagics.Queue(queue.path)
    assert (not db.exists()) if how == "delete" else db.stat().st_size == 0     # nothing was created
    recovered = cli(queue.path, "init", "--recover", str(queue.path))
    assert recovered.returncode == 0, recovered.stderr
    new = jobmagics.Queue(queue.path).submit(command=["echo", "new"])
    assert all(number(new.id) > number(i) for i in old)             # no id of a job that existed
    assert not queue.layout.log(new.id).exists()                    # so no old log to append to
    figure(f"jobs.db {how}d: what a user is told", told.stderr.strip())


def start_long_job_and_a_pending_one(queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]
                                     ) -> tuple[WorkerProcess, str, str]:
    worker = start_worker("--slots", "1", "--no-kernel", "--shutdown-grace", "1")
    long = queue.submit(command=["sleep", "60"])
    wait_for(lambda: long.refresh().state == "running", 30)
    later = queue.submit(command=["echo", "later"])
    return worker, long.id, later.id


@pytest.mark.parametrize("how", ["delete", "replace", "truncate"])
def test_a_worker_whose_database_goes_away_stops_claiming_and_says_so(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], tmp_path: Path, how: str) -> None:
    worker, long_id, later_id = start_long_job_and_a_pending_one(queue, start_worker)
    db = queue.layout.db
    if how == "delete":
        db.unlink()
    elif how == "replace":                           # another queue's database moved over it
        other = jobmagics.Queue(tmp_path / "other")
        foreign = other.submit(command=["echo", "not yours"]).id
        other.store.close()
        os.replace(other.layout.db, db)
    else:
        os.truncate(db, 0)
    assert worker.process.wait(60) == 3, worker.output()
    said = {"delete": "was deleted", "replace": "replaced by another file", "truncate": "truncated to 0 bytes"}[how]
    assert said in worker.output() and "stops claiming" in worker.output(), worker.output()
    assert not queue.layout.log(later_id).exists()                  # it claimed nothing more
    if how == "replace":
        assert jobmagics.Queue(queue.path).get(foreign).state == "pending"    # the new file untouched
        return
    if how == "delete":
        assert list(queue.layout.rescued.glob("orphaned-*.db")), "the worker kept no copy of its database"
    result = cli(queue.path, "init", "--recover", str(queue.path))
    assert result.returncode == 0, result.stderr
    recovered = jobmagics.Queue(queue.path)
    if how == "delete":                  # everything came back from the worker's copy
        assert {j.id for j in recovered.jobs()} == {long_id, later_id}
        assert recovered.get(long_id).state == "pending"            # given back, not lost
    new = recovered.submit(command=["true"]).id
    assert number(new) > number(later_id)


def damage(db: Path, pages: int = 4) -> None:
    """Random bytes over whole pages in the middle of the file, as a bad disk block would
    (after moving every page out of the WAL, where a newer copy would hide the damage)."""
    flush = sqlite3.connect(db)
    flush.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    flush.close()
    size = db.stat().st_size
    with open(db, "r+b") as handle:
        handle.seek((size // 2) // 4096 * 4096)
        handle.write(os.urandom(4096 * pages))


def test_a_damaged_database_is_refused_for_writes_by_every_entry_point_and_recovered(
        queue: jobmagics.Queue, tmp_path: Path) -> None:
    ids = [j.id for j in queue.submit_many([{"command": ["true"], "env": {"PAD": "x" * 300}}] * 3000)]
    opened_before = jobmagics.Queue(queue.path)
    opened_before.submit(command=["true"])                          # it checked the file already
    queue.store.close()
    damage(queue.layout.db)
    refused(cli(queue.path, "submit", "--", "true"), "damaged")
    with pytest.raises(DatabaseDamaged):
        jobmagics.Queue(queue.path).submit(command=["true"])
    with pytest.raises(DatabaseDamaged):                            # told by the verdict the CLI left
        opened_before.submit(command=["true"])
    worker = subprocess.run([sys.executable, "-m", "kernel_worker", "--queue", str(queue.path), "--drain"],
                            capture_output=True, text=True, timeout=120, check=False)
    assert worker.returncode == 2 and "damaged" in worker.stderr, worker.stderr
    result = cli(queue.path, "init", "--recover", str(queue.path))
    assert result.returncode == 0 and "could not read" in result.stdout, result.stdout + result.stderr
    recovered = jobmagics.Queue(queue.path)
    assert recovered.store.integrity_check() == "ok"
    kept = recovered.count()
    assert len(ids) * 0.8 < kept < len(ids) + 1, kept               # most rows salvaged
    new = recovered.submit(command=["true"]).id
    assert all(number(new) > number(i) for i in ids)
    assert len(list(queue.layout.rescued.glob("*/jobs.db"))) == 1   # the damaged file is kept
    figure("garbage mid-file (16 KiB): rows salvaged by init --recover", f"{kept} of {len(ids) + 1}")


def test_a_worker_stops_claiming_when_another_process_finds_its_database_damaged(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    queue.submit_many([{"command": ["true"], "env": {"PAD": "x" * 300}}] * 3000)
    worker = start_worker("--slots", "1", "--no-kernel", "--shutdown-grace", "1")
    wait_for(lambda: queue.count(state="pending") < 2990, 60)
    queue.pause()                     # keep the file still while it is damaged
    damage(queue.layout.db)
    refused(cli(queue.path, "submit", "--", "true"), "damaged")
    assert worker.process.wait(60) == 3, worker.output()
    assert "damaged" in worker.output() and "stops claiming" in worker.output()


def test_backup_while_a_worker_runs_jobs_is_a_consistent_copy(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], tmp_path: Path) -> None:
    start_worker("--slots", "2", "--no-kernel")
    stop = threading.Event()

    def keep_submitting() -> None:
        q = jobmagics.Queue(queue.path)
        while not stop.is_set():
            q.submit_many([{"command": ["true"]}] * 20)

    submitter = threading.Thread(target=keep_submitting)
    submitter.start()
    copies = []
    try:
        wait_for(lambda: queue.count(state="completed") >= 20, 60)
        for n in range(3):
            made = cli(queue.path, "backup", str(tmp_path / f"copy{n}.db"))
            assert made.returncode == 0 and "integrity ok" in made.stdout, made.stderr
            copies.append(tmp_path / f"copy{n}.db")
    finally:
        stop.set()
        submitter.join()
    counts = []
    for copy in copies:
        conn = sqlite3.connect(copy)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts.append(conn.execute("SELECT count(*) FROM jobs").fetchone()[0])
        assert conn.execute("SELECT count(*) FROM events WHERE job_id NOT IN (SELECT id FROM jobs)").fetchone()[0] == 0
        conn.close()
    assert 0 < counts[0] <= counts[1] <= counts[2] <= queue.count(), counts
    figure("backup while a worker runs: jobs in three successive copies", ", ".join(map(str, counts)))


def test_init_recover_from_a_backup_keeps_later_jobs_and_reuses_no_id(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], tmp_path: Path) -> None:
    early = [j.id for j in queue.submit_many([{"command": ["echo", "early"]}] * 5)]
    assert cli(queue.path, "backup", str(tmp_path)).returncode == 0
    copy = next(tmp_path.glob("jobs-*.db"))
    late = [j.id for j in queue.submit_many([{"command": ["echo", "late"]}] * 5)]
    worker = start_worker("--slots", "2", "--no-kernel", "--drain")
    assert worker.process.wait(120) == 0
    queue.store.close()
    damage(queue.layout.db, pages=1)  # a small file: its one damaged page may hold every job
    shutil.copy(copy, tmp_path / "kept.db")
    result = cli(queue.path, "init", "--recover", str(queue.path), "--from", str(tmp_path / "kept.db"))
    assert result.returncode == 0, result.stderr
    recovered = jobmagics.Queue(queue.path)
    assert set(early) <= {j.id for j in recovered.jobs()}
    new = recovered.submit(command=["true"]).id
    assert all(number(new) > number(i) for i in early + late)       # the late ones left logs behind
    second = start_worker("--slots", "2", "--no-kernel", "--drain")
    assert second.process.wait(120) == 0, second.output()
    check_invariants(recovered, [j.id for j in recovered.jobs(limit=None)], slots=2)
