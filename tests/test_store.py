"""The storage layer against a real SQLite file."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import jobmagics
from jobmagics.errors import QueueError
from jobmagics.store import Capacity
from jobmagics.store.schema import SCHEMA_VERSION


def test_a_new_queue_records_its_schema_version(queue: jobmagics.Queue) -> None:
    conn = sqlite3.connect(queue.layout.db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_a_queue_on_a_local_disk_uses_wal(queue: jobmagics.Queue) -> None:
    conn = sqlite3.connect(queue.layout.db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_the_rollback_journal_can_be_configured_for_network_filesystems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOBMAGICS_JOURNAL", "delete")
    q = jobmagics.Queue(tmp_path / "nfsq")
    q.submit(command=["true"])
    conn = sqlite3.connect(q.layout.db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()


def test_network_filesystems_are_recognised_from_the_mount_table() -> None:
    from jobmagics.paths import NETWORK_FILESYSTEMS
    assert {"nfs", "nfs4", "cifs", "lustre", "gpfs", "beegfs", "fuse.sshfs", "ceph"} <= NETWORK_FILESYSTEMS


def test_a_database_from_a_newer_jobmagics_is_refused(tmp_path: Path) -> None:
    q = jobmagics.Queue(tmp_path / "q")
    conn = sqlite3.connect(q.layout.db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(Exception, match="newer than this jobmagics"):
        jobmagics.Queue(tmp_path / "q")


def test_a_damaged_database_gives_a_clear_queue_error(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "jobs.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(QueueError, match="damaged"):
        jobmagics.Queue(folder)


def test_ids_count_up_within_a_day(queue: jobmagics.Queue) -> None:
    ids = [queue.submit(command=["true"]).id for _ in range(3)]
    numbers = [int(i.rsplit("-", 1)[1]) for i in ids]
    assert numbers == [1, 2, 3]
    assert len({i.split("-")[1] for i in ids}) == 1


def test_claims_take_the_highest_priority_then_the_oldest(queue: jobmagics.Queue) -> None:
    low1 = queue.submit(command=["true"], priority=0)
    high = queue.submit(command=["true"], priority=5)
    low2 = queue.submit(command=["true"], priority=0)
    top = queue.submit(command=["true"], priority=9)
    claimed = queue.store.claim("w", Capacity(slots=10, memory=1 << 40), limit=10)
    assert [j.id for j in claimed] == [top.id, high.id, low1.id, low2.id]


def test_a_claim_respects_resource_capacity_slots_and_memory(queue: jobmagics.Queue) -> None:
    hw = [queue.submit(command=["true"], resources=["hardware"]) for _ in range(2)]
    big = queue.submit(command=["true"], cpus=3)
    fat = queue.submit(command=["true"], memory="2G")
    small = queue.submit(command=["true"])
    claimed = queue.store.claim("w", Capacity(slots=2, memory=1 << 30, resources={"hardware": 1}), limit=10)
    assert [j.id for j in claimed] == [hw[0].id, small.id]
    assert big.state == "pending" and fat.state == "pending" and hw[1].state == "pending"


def test_a_worker_without_the_resource_never_claims_its_jobs(queue: jobmagics.Queue) -> None:
    queue.submit(command=["true"], resources=["hardware"])
    assert queue.store.claim("w", Capacity(slots=4, memory=1 << 40), limit=4) == []


def test_a_job_waiting_for_a_retry_backoff_is_not_claimed_early(queue: jobmagics.Queue) -> None:
    job = queue.submit(command=["false"], retries=1, retry_delay=60)
    [claimed] = queue.store.claim("w", Capacity(slots=1, memory=1 << 40), limit=1)
    assert queue.store.finish(claimed.id, "w", jobmagics.State.FAILED, 1, "exit code 1") is jobmagics.State.PENDING
    assert queue.store.claim("w", Capacity(slots=1, memory=1 << 40), limit=1) == []
    assert job.refresh().attempt == 2


def test_a_finish_from_a_worker_that_lost_the_job_is_ignored(queue: jobmagics.Queue) -> None:
    queue.submit(command=["true"])
    [job] = queue.store.claim("w1", Capacity(slots=1, memory=1 << 40), limit=1)
    assert queue.store.finish(job.id, "w2", jobmagics.State.COMPLETED, 0, None) is None
    assert queue.get(job.id).state == "running"


def test_every_transition_is_recorded_with_its_time(queue: jobmagics.Queue) -> None:
    job = queue.submit(command=["true"])
    queue.store.claim("w", Capacity(slots=1, memory=1 << 40), limit=1)
    queue.store.finish(job.id, "w", jobmagics.State.COMPLETED, 0, None)
    events = queue.events(job.id)
    assert [e["state"] for e in events] == ["pending", "running", "completed"]
    assert events[0]["at"] <= events[1]["at"] <= events[2]["at"]


def test_the_integrity_check_passes_on_a_used_queue(queue: jobmagics.Queue) -> None:
    for _ in range(10):
        queue.submit(command=["true"])
    assert queue.store.integrity_check() == "ok"


def test_slurm_jobs_are_not_bound_by_the_workers_local_slots_or_memory(queue: jobmagics.Queue) -> None:
    wide = queue.submit(command=["true"], backend="slurm", cpus=64, memory="512G")
    local = queue.submit(command=["true"], cpus=64)
    claimed = queue.store.claim("w", Capacity(slots=0, memory=0, backends=("local", "slurm")), limit=8)
    assert [j.id for j in claimed] == [wide.id]
    assert local.state == "pending"
