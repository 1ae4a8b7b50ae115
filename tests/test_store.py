"""The storage layer against a real SQLite file."""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

import jobmagics
from jobmagics.errors import DatabaseDamaged, DatabaseMissing, DatabaseReplaced, QueueError
from jobmagics.paths import QueueLayout
from jobmagics.store import Capacity, integrity
from jobmagics.store.backup import backup
from jobmagics.store.recovery import recover
from jobmagics.store.salvage import Salvaged, readable_rows
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


def test_a_worker_serving_one_user_claims_in_their_own_claim_order(queue: jobmagics.Queue) -> None:
    """From jobs_user_claim (schema v2): it no longer walks past everyone else's pending jobs."""
    mine = [queue.submit(command=["true"], priority=p) for p in (0, 3, 0)]
    theirs = queue.submit_many([{"command": ["true"], "priority": 9}] * 3)
    with queue.store.db.write() as conn:
        conn.execute("UPDATE jobs SET user = 'someone-else' WHERE id IN (?, ?, ?)", [j.id for j in theirs])
    statements: list[str] = []
    queue.store.db.connection().set_trace_callback(statements.append)
    try:
        claimed = queue.store.claim("w", Capacity(slots=10, memory=1 << 40, only_user=queue.user), limit=10)
    finally:
        queue.store.db.connection().set_trace_callback(None)
    assert [j.id for j in claimed] == [mine[1].id, mine[0].id, mine[2].id]
    picks = [s for s in statements if "not_before <=" in s]
    assert picks and all("INDEXED BY jobs_user_claim" in s for s in picks)
    plan = [r[3] for r in queue.store.db.read(f"EXPLAIN QUERY PLAN {picks[0]}")]
    assert "SEARCH jobs USING INDEX jobs_user_claim (user=?)" in plan


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


# ---- the database file: opened read-only-safe, never re-created, checked, recovered ------
def test_opening_a_current_queue_takes_no_write_lock(queue: jobmagics.Queue) -> None:
    """It used to migrate in a write transaction, so it waited for any writer (60 s at most)."""
    queue.submit(command=["true"])
    holder = sqlite3.connect(queue.layout.db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        reader = jobmagics.Queue(queue.path, busy_timeout=0.5)
        assert reader.count() == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_deleted_database_is_not_recreated_by_a_process_that_had_it_open(queue: jobmagics.Queue) -> None:
    queue.submit(command=["true"])
    for suffix in ("", "-wal", "-shm"):
        Path(f"{queue.layout.db}{suffix}").unlink(missing_ok=True)
    with pytest.raises(DatabaseReplaced, match="was deleted"):
        queue.submit(command=["true"])
    errors: list[Exception] = []

    def in_a_new_thread() -> None:          # a new connection: SQLite would create the file
        try:
            queue.count()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=in_a_new_thread)
    thread.start()
    thread.join()
    assert errors and isinstance(errors[0], DatabaseReplaced)
    assert not queue.layout.db.exists()
    with pytest.raises(DatabaseMissing, match="init --recover"):
        jobmagics.Queue(queue.path)


def test_a_folder_with_job_files_but_no_marker_is_not_a_fresh_queue(tmp_path: Path) -> None:
    """Queues made before the marker existed are known by their job files."""
    (tmp_path / "q" / "logs").mkdir(parents=True)
    (tmp_path / "q" / "logs" / "JOB-20240101-00007.log").write_text("old output\n")
    with pytest.raises(DatabaseMissing):
        jobmagics.Queue(tmp_path / "q")
    assert not (tmp_path / "q" / "jobs.db").exists()


def test_the_integrity_check_runs_once_and_again_only_after_a_change_behind_sqlites_back(
        queue: jobmagics.Queue, monkeypatch: pytest.MonkeyPatch) -> None:
    checks = []
    real = integrity.quick_check
    monkeypatch.setattr(integrity, "quick_check", lambda conn: checks.append(1) or real(conn))
    queue.submit_many([{"command": ["true"]}] * 200)
    queue.store.checkpoint()
    queue.store.close()
    for _ in range(3):                      # new processes, as far as the store can tell
        jobmagics.Queue(queue.path).submit(command=["true"])
    assert len(checks) == 0                 # the fixture's own first write checked it already
    with open(queue.layout.db, "r+b") as handle:     # a byte changed by something else than SQLite
        handle.seek(100 * 1024 // 2)
        handle.write(handle.read(1))
    os.utime(queue.layout.db, ns=(1, 1))
    jobmagics.Queue(queue.path).submit(command=["true"])
    assert len(checks) == 1


def test_garbage_in_the_file_is_refused_for_writes_but_reads_still_answer(queue: jobmagics.Queue) -> None:
    queue.submit_many([{"command": ["true"], "env": {"PAD": "x" * 500}}] * 500)
    queue.store.checkpoint()
    queue.store.close()
    size = queue.layout.db.stat().st_size
    with open(queue.layout.db, "r+b") as handle:
        handle.seek((size // 2) // 4096 * 4096)
        handle.write(b"\xff" * 4096)
    damaged = jobmagics.Queue(queue.path)
    with pytest.raises(DatabaseDamaged, match="init --recover"):
        damaged.submit(command=["true"])
    assert damaged.count(state="pending") == 500       # an index the damage missed still answers
    assert damaged.store.known_damage() and jobmagics.Queue(queue.path).store.known_damage()


def test_recovery_seeds_the_id_counters_past_every_job_file(tmp_path: Path) -> None:
    root = tmp_path / "q"
    (root / "logs").mkdir(parents=True)
    (root / "data").mkdir()
    today = time.strftime("%Y%m%d")
    (root / "logs" / f"JOB-{today}-00042.log").write_text("")
    (root / "data" / "JOB-20200101-00077.h5").write_text("")
    (root / ".jobmagics-queue").write_text("{}")
    with pytest.raises(DatabaseMissing):
        jobmagics.Queue(root)
    done = recover(QueueLayout(root))
    assert done.needed == "missing" and done.kept_in is None
    q = jobmagics.Queue(root)
    assert int(q.submit(command=["true"]).id.rsplit("-", 1)[1]) > 42
    assert q.store.db.read("SELECT n FROM counters WHERE day = '20200101'")[0][0] >= 77
    assert recover(QueueLayout(root)).needed == ""      # sound now: left alone


def test_salvage_reads_every_row_but_those_on_a_damaged_page(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    conn.executemany("INSERT INTO t(body) VALUES (?)", [("x" * 200,) for _ in range(5000)])
    conn.commit()
    conn.close()
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek((size // 2) // 4096 * 4096)
        handle.write(b"\x0d" * 4096)          # a page that claims to be a leaf full of nonsense
    src = sqlite3.connect(path)
    src.row_factory = sqlite3.Row
    report = Salvaged(str(path))
    ids = [row["id"] for row in readable_rows(src, "t", report)]
    assert ids[0] == 1 and ids[-1] == 5000 and ids == sorted(ids)
    assert 5000 - 40 <= len(ids) < 5000 and len(report.unreadable) == 1, report.unreadable


def test_a_backup_is_a_sound_copy_and_never_the_queue_itself(queue: jobmagics.Queue, tmp_path: Path) -> None:
    queue.submit_many([{"command": ["true"]}] * 30)
    made = backup(queue.store.db, tmp_path / "copy.db")
    assert made.jobs == 30 and sqlite3.connect(made.path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with pytest.raises(QueueError, match="own database"):
        backup(queue.store.db, queue.layout.db)
