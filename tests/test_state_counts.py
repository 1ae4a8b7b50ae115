"""Schema v2's state_counts: how many jobs each user has in each state, kept by triggers, so
the counts a listing shows and ``stats`` are a few rows at any size (issue 8, item 7).
They must equal a real count after anything any process does, and an older queue must
migrate to them, or be read without them where it cannot be written."""
from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import jobmagics
from jobmagics import paths
from jobmagics.model import TERMINAL, JobOptions, format_job_id
from jobmagics.store.schema import MIGRATIONS, SCHEMA_VERSION
from tests.conftest import AS_ROOT, WorkerProcess, set_read_only, wait_for

FINISHED = sorted(s.value for s in TERMINAL)


def reading(db: Path) -> contextlib.closing[sqlite3.Connection]:
    """Read-only; on a read-only filesystem with no -shm file, the file as it is."""
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA schema_version")
    except sqlite3.OperationalError:
        conn.close()
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro&immutable=1", uri=True)
    return contextlib.closing(conn)


def real_counts(db: Path) -> dict[tuple[str, str], int]:
    with reading(db) as conn:
        return {(u, s): n for u, s, n in conn.execute("SELECT user, state, count(*) FROM jobs GROUP BY user, state")}


def kept_counts(db: Path) -> dict[tuple[str, str], int]:
    with reading(db) as conn:
        return {(u, s): n for u, s, n in conn.execute("SELECT user, state, n FROM state_counts WHERE n != 0")}


def assert_counts_right(q: jobmagics.Queue, *, table: bool = True) -> None:
    """The table (if ``table``) and every count the store answers equal a real count."""
    real = real_counts(q.layout.db)
    if table:
        assert kept_counts(q.layout.db) == real
    by_state: dict[str, int] = {}
    for (_, state), n in real.items():
        by_state[state] = by_state.get(state, 0) + n
    assert q.store.state_counts() == by_state
    assert q.stats()["total"] == q.count() == sum(real.values())
    assert q.count(state=FINISHED) == sum(by_state.get(s, 0) for s in FINISHED)
    assert q.store.active_counts() == {s: by_state.get(s, 0) for s in ("running", "pending", "waiting")}
    for user in {u for u, _ in real} | {"nobody"}:
        mine = {s: n for (u, s), n in real.items() if u == user}
        assert q.store.active_counts(user) == {s: mine.get(s, 0) for s in ("running", "pending", "waiting")}
        assert q.count(user=user) == sum(mine.values())
        assert q.count(state=["failed", "pending"], user=user) == mine.get("failed", 0) + mine.get("pending", 0)


def test_a_new_queue_keeps_counts_from_its_first_job(queue: jobmagics.Queue) -> None:
    queue.submit(command=["true"])
    assert kept_counts(queue.layout.db) == {(queue.user, "pending"): 1}


def test_counts_stay_right_through_a_real_workers_mixed_workload(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    first = start_worker("--slots", "2")
    done = queue.submit_many([{"command": ["true"]}] * 4)
    flaky = queue.submit(command=["false"], retries=1, retry_delay=0.1)       # fails, retried, fails
    parent = queue.submit(command=["sleep", "0.3"])
    child = queue.submit(command=["true"], after=[parent.id])                  # waiting, then pending
    doomed = queue.submit(command=["false"])
    orphaned = queue.submit(command=["true"], after=[doomed.id])               # cancelled by its parent
    held = queue.submit(command=["true"], hold=True)
    released = queue.submit(command=["true"], hold=True)
    long = queue.submit(command=["sleep", "30"])
    queue.release(released.id)
    queue.cancel(held.id)                                                      # waiting -> cancelled
    wait_for(lambda: long.refresh().state == "running", 30)
    long.cancel()                                                              # running -> cancelled
    for job in (*done, flaky, parent, child, doomed, orphaned, released, long):
        job.wait(60)
    assert (flaky.state, child.state, orphaned.state, long.state) == ("failed", "completed", "cancelled", "cancelled")
    assert_counts_right(queue)
    queue.retry(flaky.id)                                                      # failed -> pending -> ...
    queue.delete(done[0].id)
    queue.delete(done[1].id)
    assert flaky.wait(60).state == "failed" and flaky.attempt == 3
    assert_counts_right(queue)
    # a killed worker's jobs: requeued (retries left) or failed (none) by the next worker
    first.stop()
    killed = start_worker("--slots", "2")
    again = queue.submit(command=["sleep", "30"], retries=1)
    lost = queue.submit(command=["sleep", "30"])
    wait_for(lambda: again.refresh().state == lost.refresh().state == "running", 30)
    killed.kill()
    start_worker("--slots", "2")
    assert lost.wait(60).state == "failed" and "worker lost" in (lost.error or "")
    wait_for(lambda: again.refresh().state == "running" and again.attempt == 2, 30)
    assert_counts_right(queue)
    again.cancel().wait(30)
    assert_counts_right(queue)


def test_counts_stay_right_when_rows_are_changed_with_raw_sql(queue: jobmagics.Queue) -> None:
    """A group member with the sqlite3 shell (or an older jobmagics) writes around our code:
    the triggers live in the database, so the counts follow whoever writes."""
    jobs = queue.submit_many([{"command": ["true"]}] * 10 + [{"command": ["true"], "hold": True}] * 3)
    conn = sqlite3.connect(queue.layout.db, isolation_level=None)
    try:
        conn.execute("UPDATE jobs SET state = 'completed' WHERE id IN (?, ?, ?)", [j.id for j in jobs[:3]])
        conn.execute("UPDATE jobs SET state = 'running', worker = 'w' WHERE id = ?", (jobs[3].id,))
        conn.execute("UPDATE jobs SET user = 'someone-else' WHERE id IN (?, ?)", (jobs[4].id, jobs[0].id))
        conn.execute("UPDATE jobs SET state = 'failed', user = 'a-third' WHERE id = ?", (jobs[5].id,))
        conn.execute("UPDATE jobs SET state = state, priority = 7")                # no change of state
        conn.execute("DELETE FROM jobs WHERE id IN (?, ?)", (jobs[1].id, jobs[10].id))
        conn.execute("INSERT INTO jobs(id, kind, user, host, state, submitted_at, cwd)"
                     " SELECT id || 'x', kind, 'copier', host, state, submitted_at, cwd FROM jobs")
        conn.execute("INSERT INTO jobs(id, kind, user, host, state, submitted_at, cwd)"
                     " VALUES (?, 'command', 'x', 'h', 'pending', 0, '/') ON CONFLICT(id)"
                     " DO UPDATE SET state = 'timeout'", (jobs[6].id,))         # an upsert that updates
        conn.execute("BEGIN")
        conn.execute("UPDATE jobs SET state = 'cancelled'")
        conn.execute("ROLLBACK")                                                   # undone with it
    finally:
        conn.close()
    assert queue.get(jobs[6].id).state == "timeout"
    assert_counts_right(queue)
    assert queue.count(user="copier") == 11


def test_filters_the_table_cannot_answer_are_counted(queue: jobmagics.Queue) -> None:
    queue.submit_many([{"command": ["true"], "name": "a"}] * 3 + [{"command": ["true"], "name": "b"}] * 2)
    assert queue.count(name="a") == 3 and queue.count(state="pending", name="b") == 2
    assert queue.count(since=time.time() + 60) == 0 and queue.count(since=0) == 5


# ---- a queue made before v2 (no counts) or v3 (no indexes per user) ---------------------------
MIX = [("ann", "completed")] * 5 + [("ann", "pending")] * 3 + [("bob", "failed")] * 2 + \
      [("bob", "running"), ("bob", "waiting"), ("cy", "cancelled"), ("cy", "timeout")]


def old_queue(folder: Path, jobs: list[tuple[str, str]], version: int = 1) -> Path:
    """A queue folder as an older jobmagics left it: its DDL is MIGRATIONS[:version] as they
    were (migrations are only ever appended), in WAL mode, with ``jobs`` as (user, state)."""
    layout = paths.ensure_layout(folder)
    conn = sqlite3.connect(layout.db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = wal")
    for script in MIGRATIONS[:version]:
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.executemany("INSERT INTO jobs(id, kind, user, host, state, submitted_at, cwd)"
                     " VALUES (?, 'command', ?, 'h', ?, 0, '/')",
                     [(format_job_id("20260101", i + 1), user, state) for i, (user, state) in enumerate(jobs)])
    conn.execute("INSERT INTO counters(day, n) VALUES ('20260101', ?)", (len(jobs),))
    conn.close()
    return layout.db


def schema_of(db: Path) -> tuple[int, bool]:
    with reading(db) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        table = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'state_counts'").fetchone()
    return version, table is not None


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_an_older_queue_migrates_on_first_open_with_its_counts_filled_in(tmp_path: Path, version: int) -> None:
    db = old_queue(tmp_path / "old", MIX, version)
    assert schema_of(db) == (version, version >= 2)
    q = jobmagics.Queue(tmp_path / "old")
    assert schema_of(db) == (SCHEMA_VERSION, True)
    with reading(db) as conn:
        assert [r[2] for r in conn.execute("PRAGMA index_info(jobs_user)")] == ["user", "state", "seq"]
        assert [r[2] for r in conn.execute("PRAGMA index_info(jobs_user_claim)")] == ["user", "priority", None]
        assert [r[2] for r in conn.execute("PRAGMA index_info(jobs_submitted)")] == ["submitted_at"]
    assert_counts_right(q)
    assert q.store.state_counts() == {"completed": 5, "pending": 3, "failed": 2, "running": 1,
                                      "waiting": 1, "cancelled": 1, "timeout": 1}
    job = q.submit(command=["true"])                     # and the triggers keep them from then on
    q.cancel(job.id)
    q.delete(job.id)
    q.submit_many([{"command": ["true"]}] * 4)
    assert_counts_right(q)


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[tuple[Path, Callable[[bool], None]]]:
    """A folder and a switch that makes it read-only for everyone: a tmpfs remounted read-only
    when root (root ignores file modes), else file modes."""
    folder = tmp_path / "mnt"
    folder.mkdir()
    if AS_ROOT:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(folder)], check=True)

    def switch(on: bool) -> None:
        set_read_only(folder, on)

    try:
        yield folder, switch
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            switch(False)
        if AS_ROOT:
            subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_an_older_queue_on_a_read_only_folder_still_answers_counts_and_listings(
        read_only: tuple[Path, Callable[[bool], None]], version: int) -> None:
    folder, set_read_only = read_only
    db = old_queue(folder / "old", MIX, version)
    set_read_only(True)
    q = jobmagics.Queue(folder / "old")                  # opened without migrating: it cannot write
    assert schema_of(db) == (version, version >= 2)
    q.change_version()        # no counter table yet: answered from data_version, no error
    assert set(q.change_versions()) == {"n", "ended", "schedules"}   # nor topics: each is n
    assert_counts_right(q, table=version >= 2)
    assert q.queue(limit=2).total == 5 and len(q.history(limit=3)) == 3
    assert [j.state for j in q.queue(user="bob")] == ["running", "waiting"]   # no newer index needed
    assert len(q.jobs(user="ann", limit=4)) == 4 and len(q.history(user="cy")) == 2
    assert len(q.jobs(user="ann", since=0)) == q.count(state="completed", user="ann", since=0) + 3
    with pytest.raises(jobmagics.JobmagicsError):
        q.submit(command=["true"])
    set_read_only(False)
    q.store.close()
    migrated = jobmagics.Queue(folder / "old")           # the first open that can write migrates
    assert schema_of(db) == (SCHEMA_VERSION, True)
    assert_counts_right(migrated)


def test_a_column_added_since_an_older_queue_reads_as_its_declared_default(
        read_only: tuple[Path, Callable[[bool], None]]) -> None:
    """A new field is one declaration plus one migration: an older queue that cannot be
    migrated (read-only) still lists its jobs, the new column reading as the field's default."""
    folder, set_read_only = read_only
    db = old_queue(folder / "old", MIX, SCHEMA_VERSION - 1)
    conn = sqlite3.connect(db, isolation_level=None)   # as if `stage` and `options` came later
    conn.execute("ALTER TABLE jobs DROP COLUMN stage")
    conn.execute("ALTER TABLE jobs DROP COLUMN options")
    conn.close()
    set_read_only(True)
    q = jobmagics.Queue(folder / "old")
    jobs = q.jobs(limit=None)
    assert len(jobs) == len(MIX) and {j.record.stage for j in jobs} == {None}
    assert {j.record.options == JobOptions() for j in jobs} == {True}
    assert [j.state for j in q.queue(user="bob")] == ["running", "waiting"]
    assert q.get(jobs[0].id).record.stage is None


def test_an_older_queue_opened_read_only_is_migrated_by_its_first_write_once_writable(
        read_only: tuple[Path, Callable[[bool], None]]) -> None:
    folder, set_read_only = read_only
    db = old_queue(folder / "old", MIX, 1)
    set_read_only(True)
    q = jobmagics.Queue(folder / "old")
    assert q.count() == len(MIX)
    set_read_only(False)
    q.submit(command=["true"])                       # the same Queue: its first write migrates
    assert schema_of(db) == (SCHEMA_VERSION, True)
    assert_counts_right(q)
