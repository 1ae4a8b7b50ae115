"""Retention with real jobs run by a real worker: a prune removes old finished jobs' rows and
every kind of file they left, keeps what something still depends on, an array whole or not at
all, changes nothing in a dry run, gives the database's space back; ``du`` says where the
space goes."""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from jobmagics.model import State
from jobmagics.paths import QueueLayout
from jobmagics.store import Store
from jobmagics.store.retention_files import job_files
from tests.conftest import WorkerProcess, wait_for

DAY = 86400.0
TABLES_OF_A_JOB = (("jobs", "id"), ("events", "job_id"), ("payloads", "job_id"),
                   ("results", "job_id"), ("deps", "child"), ("outbox", "job_id"))


def age(queue_dir: Path, job_ids: Iterable[str], seconds: float = 2 * DAY) -> None:
    """Make jobs look as if they ended (and were submitted) ``seconds`` earlier."""
    ids = list(job_ids)
    with sqlite3.connect(queue_dir / "jobs.db") as conn:
        conn.executemany("UPDATE jobs SET finished_at = finished_at - ?,"
                         " submitted_at = submitted_at - ? WHERE id = ?",
                         [(seconds, seconds, i) for i in ids])


def rows_of(queue_dir: Path, job_ids: Iterable[str]) -> dict[str, int]:
    ids = list(job_ids)
    marks = ",".join("?" * len(ids))
    with sqlite3.connect(queue_dir / "jobs.db") as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table} WHERE {column} IN ({marks})",
                                    ids).fetchone()[0]
                for table, column in TABLES_OF_A_JOB}


def counts_are_right(queue_dir: Path) -> bool:
    """state_counts (kept by triggers) says what the jobs table holds."""
    with sqlite3.connect(queue_dir / "jobs.db") as conn:
        real = {(u, s): n for u, s, n in conn.execute(
            "SELECT user, state, count(*) FROM jobs GROUP BY user, state")}
        kept = {(u, s): n for u, s, n in conn.execute("SELECT user, state, n FROM state_counts")
                if n}
    return real == kept


def files_of(queue_dir: Path, job_id: str) -> list[Path]:
    return sorted(Path(f.path) for f in job_files(QueueLayout(queue_dir)) if f.job_id == job_id)


def everything(queue_dir: Path) -> dict[str, Any]:
    """Every row of every table (but the workers' heartbeats) and every file (size, mtime)."""
    with sqlite3.connect(queue_dir / "jobs.db") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
                  if r[0] != "workers"]
        rows = {t: sorted(map(repr, conn.execute(f"SELECT * FROM {t}"))) for t in tables}
    files = {str(p.relative_to(queue_dir)): (p.stat().st_size, p.stat().st_mtime_ns)
             for p in queue_dir.rglob("*")
             if p.is_file() and not p.name.startswith(("jobs.db", ".jobs.db"))}
    return {"rows": rows, "files": files}


def batch_leftovers(queue_dir: Path, job_id: str) -> list[Path]:
    """What a SLURM job leaves beside the queue's own folders (see batch_files)."""
    reports = queue_dir / "slurm" / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    made = [queue_dir / "slurm" / f"{job_id}.sh", reports / f"{job_id}.1.progress",
            queue_dir / "results" / f"{job_id}.pickle"]
    for path in made:
        path.write_text("left by a batch job")
    return made


def test_a_prune_removes_old_jobs_rows_and_every_kind_of_file_they_left(
        queue: jobmagics.Queue, queue_dir: Path, worker: WorkerProcess) -> None:
    command = queue.submit(["sh", "-c", "echo out; echo err >&2"],
                           options={"capture": True})
    python = queue.submit(code="print('hello')\nfrom IPython.display import HTML\n"
                               "display(HTML('<b>rich</b>'))")
    experiment = queue.submit(experiment="jobmagics.experiments:Rabi",
                              config={"points": 5}, after=[command])
    jobs = [command, python, experiment]
    for job in jobs:
        job.wait(120)
    made = batch_leftovers(queue_dir, command.id)
    assert (queue_dir / "logs" / f"{command.id}.stderr").exists()
    assert queue.layout.outputs(python.id).exists() and queue.layout.notebook(python.id).exists()
    assert queue.layout.data(experiment.id).exists() and queue.layout.config(experiment.id).exists()
    before = {job.id: files_of(queue_dir, job.id) for job in jobs}
    keep = queue.submit(["true"]).wait(60)              # ended just now: stays
    age(queue_dir, [job.id for job in jobs])

    report = queue.prune("1d", keep_data=False)

    assert report.jobs == 3 and not report.dry_run
    assert rows_of(queue_dir, [job.id for job in jobs]) == dict.fromkeys(
        (t for t, _ in TABLES_OF_A_JOB), 0)
    assert all(files_of(queue_dir, job.id) == [] for job in jobs)
    assert not any(path.exists() for path in made)
    assert report.files == sum(map(len, before.values())) and report.bytes > 0
    assert queue.get(keep.id).state.value == "completed" and files_of(queue_dir, keep.id)
    assert counts_are_right(queue_dir)
    assert queue.stats()["total"] == 1


def test_a_prune_keeps_data_files_unless_asked(queue: jobmagics.Queue, queue_dir: Path,
                                               worker: WorkerProcess) -> None:
    job = queue.submit(experiment="jobmagics.experiments:Rabi", config={"points": 5}).wait(120)
    age(queue_dir, [job.id])
    assert queue.prune("1d").data_kept == 1 and queue.layout.data(job.id).exists()


def test_keep_data_leaves_the_data_files_and_removes_the_rest(
        queue: jobmagics.Queue, queue_dir: Path, worker: WorkerProcess) -> None:
    job = queue.submit(experiment="jobmagics.experiments:Rabi", config={"points": 5}).wait(120)
    age(queue_dir, [job.id])
    report = queue.prune("1d", keep_data=True)
    assert report.jobs == 1 and report.data_kept == 1
    assert queue.layout.data(job.id).exists()
    assert not queue.layout.log(job.id).exists() and not queue.layout.config(job.id).exists()
    again = queue.prune("1d", keep_data=False)                 # the kept data file is its job's last trace
    assert again.jobs == 0 and again.orphan_files == 0 and queue.layout.data(job.id).exists()
    os.utime(queue.layout.data(job.id), (time.time() - 2 * DAY,) * 2)
    assert queue.prune("1d", keep_data=False).orphan_files == 1 and not queue.layout.data(job.id).exists()


def test_a_finished_parent_stays_while_a_job_after_it_waits(
        queue: jobmagics.Queue, queue_dir: Path, worker: WorkerProcess) -> None:
    parent = queue.submit(["true"])
    child = queue.submit(["true"], after=[parent], hold=True)
    parent.wait(60)                  # the child, held, stays waiting
    age(queue_dir, [parent.id])
    report = queue.prune("1d", keep_data=False)
    assert report.jobs == 0 and report.kept_parents == 1
    assert queue.get(parent.id).state.value == "completed"
    queue.cancel(child.id)
    age(queue_dir, [child.id])
    assert queue.prune("1d", keep_data=False).jobs == 2


def test_an_array_goes_whole_or_not_at_all(queue: jobmagics.Queue, queue_dir: Path) -> None:
    array = queue.submit_array(["true", "{index}"], items=range(3), hold=True)
    elements = [job.id for job in array.elements]
    queue.cancel(elements[0])
    queue.cancel(elements[1])                # the third still waits (held)
    age(queue_dir, elements)
    report = queue.prune("1d", keep_data=False)
    assert report.jobs == 0 and report.kept_arrays == 1
    assert all(queue.get(i) for i in elements)
    queue.cancel(array.id)
    age(queue_dir, [elements[2]])
    report = queue.prune("1d", keep_data=False)
    assert report.jobs == 3 and report.arrays == 1
    with sqlite3.connect(queue_dir / "jobs.db") as conn:
        assert conn.execute("SELECT count(*) FROM arrays WHERE id = ?", (array.id,)).fetchone()[0] == 0
    assert counts_are_right(queue_dir)


def test_an_array_that_a_waiting_job_comes_after_stays(
        queue: jobmagics.Queue, queue_dir: Path, worker: WorkerProcess) -> None:
    array = queue.submit_array(["true", "{index}"], items=range(2))
    after = queue.submit(["true"], after=[array.id], hold=True)
    array.wait(60)
    age(queue_dir, [job.id for job in array.elements])
    report = queue.prune("1d", keep_data=False)
    assert report.jobs == 0 and report.kept_parents == 1
    queue.cancel(after.id)
    assert queue.prune("1d", keep_data=False).jobs == 2


def test_a_dry_run_changes_nothing_and_reports_what_the_prune_then_does(
        queue: jobmagics.Queue, queue_dir: Path, worker: WorkerProcess) -> None:
    done = [queue.submit(["sh", "-c", f"echo {i}"]) for i in range(4)]
    for job in done:
        job.wait(60)
    held = queue.submit(["true"], after=[done[0]], hold=True)
    array = queue.submit_array(["true", "{index}"], items=range(2), hold=True)
    queue.cancel(array.element(0).id)
    age(queue_dir, [*(j.id for j in done), array.element(0).id])
    orphan = queue_dir / "logs" / "JOB-20200101-00001.log"
    orphan.write_text("a job long gone")
    os.utime(orphan, (time.time() - 2 * DAY,) * 2)
    before = everything(queue_dir)

    planned = queue.prune("1d", keep_data=False, dry_run=True)

    assert everything(queue_dir) == before
    assert planned.dry_run and planned.jobs == 3 and planned.kept_parents == 1
    assert planned.kept_arrays == 1 and planned.orphan_files == 1
    done_report = queue.prune("1d", keep_data=False)
    for name in ("jobs", "arrays", "files", "bytes", "orphan_files", "kept_parents",
                 "kept_arrays", "kept_unsent"):
        assert getattr(done_report, name) == getattr(planned, name), name
    assert queue.get(held.id).state.value == "waiting"


def test_orphan_files_go_only_when_old_and_never_while_their_job_has_a_row(
        queue: jobmagics.Queue, queue_dir: Path) -> None:
    kept = queue.submit(["true"], hold=True)
    old = time.time() - 2 * DAY
    paths = {name: queue_dir / "logs" / f"{name}.log" for name in
             ("JOB-20200101-00001", "JOB-20200101-00002", kept.id)}
    for name, path in paths.items():
        path.write_text(name)
        if name != "JOB-20200101-00002":
            os.utime(path, (old, old))
    mine = queue.prune("1d", user=queue.user, keep_data=False)          # one user's prune leaves orphans be
    assert mine.orphan_files == 0 and paths["JOB-20200101-00001"].exists()
    report = queue.prune("1d", keep_data=False)
    assert report.orphan_files == 1 and not paths["JOB-20200101-00001"].exists()
    assert paths["JOB-20200101-00002"].exists()        # recent: a prune may be writing it
    assert paths[kept.id].exists()                     # its job has a row


def _fill(queue: jobmagics.Queue, queue_dir: Path, n: int) -> list[str]:
    ids: list[str] = []
    while len(ids) < n:
        jobs = queue.submit_many([{"command": ["echo", "x" * 200], "name": f"job {i}", "hold": True}
                                  for i in range(min(2000, n - len(ids)))])
        queue.apply("cancel", [job.id for job in jobs])
        ids += [job.id for job in jobs]
    age(queue_dir, ids)
    return ids


def test_the_database_file_shrinks_after_a_prune_of_20000_jobs(queue: jobmagics.Queue,
                                                             queue_dir: Path) -> None:
    _fill(queue, queue_dir, 20_000)
    queue.store.checkpoint()
    before = (queue_dir / "jobs.db").stat().st_size
    report = queue.prune("1d", keep_data=False)
    after = (queue_dir / "jobs.db").stat().st_size
    assert report.jobs == 20_000
    assert after < before / 4, (before, after)
    assert report.pages_freed and report.pages_freed > 0
    assert not (queue_dir / "jobs.db-wal").exists() or (queue_dir / "jobs.db-wal").stat().st_size == 0
    assert queue.store.integrity_check() == "ok"


def test_an_older_queue_without_incremental_vacuum_is_converted_by_its_first_prune(
        queue: jobmagics.Queue, queue_dir: Path) -> None:
    queue.store.close()
    with sqlite3.connect(queue_dir / "jobs.db", isolation_level=None) as conn:
        conn.execute("PRAGMA auto_vacuum = NONE")
        conn.execute("VACUUM")
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 0
    queue = jobmagics.Queue(queue_dir)
    _fill(queue, queue_dir, 4000)
    queue.store.checkpoint()
    before = (queue_dir / "jobs.db").stat().st_size
    report = queue.prune("1d", keep_data=False)
    assert "converted" in report.vacuum
    assert (queue_dir / "jobs.db").stat().st_size < before / 2
    assert queue.du().auto_vacuum == "incremental"


def test_new_queues_are_made_with_incremental_vacuum(queue: jobmagics.Queue) -> None:
    assert queue.du().auto_vacuum == "incremental"


def test_du_says_per_user_and_state_how_many_jobs_and_bytes_of_each_kind(
        queue: jobmagics.Queue, queue_dir: Path, worker: WorkerProcess) -> None:
    log_job = queue.submit(["sh", "-c", "head -c 100000 /dev/zero"]).wait(60)
    data_job = queue.submit(experiment="jobmagics.experiments:Rabi", config={"points": 5})
    assert data_job.wait(120).state is State.COMPLETED, (data_job.error, data_job.log())
    (queue_dir / "logs" / "JOB-20200101-00001.log").write_text("x" * 5000)
    by_user = queue.du()
    mine = next(r for r in by_user.rows if r.key == queue.user)
    assert mine.jobs == 2
    assert mine.logs >= 100_000 and mine.data > 0 and mine.snapshots > 0
    gone = next(r for r in by_user.rows if r.key == "(no job)")
    assert gone.jobs == 0 and gone.logs >= 5000
    assert by_user.db_bytes > 0 and by_user.pages > 0
    by_state = queue.du(by="state")
    assert {r.key for r in by_state.rows} == {"completed", "(no job)"}
    assert log_job.id and sum(r.total for r in by_state.rows) == by_user.files_total


@pytest.mark.parametrize("bad", ["3x", "0d", "-1d", "", 30])
def test_a_bad_age_is_refused_and_nothing_changes(queue: jobmagics.Queue, queue_dir: Path,
                                                  bad: object) -> None:
    queue.cancel(queue.submit(["true"]).id)
    before = everything(queue_dir)
    with pytest.raises(jobmagics.JobmagicsError, match="not an age"):
        queue.prune(bad)
    assert everything(queue_dir) == before


def test_one_worker_of_three_applies_retention_days_once_a_day(
        queue: jobmagics.Queue, queue_dir: Path,
        start_worker: Callable[..., WorkerProcess]) -> None:
    first = _fill(queue, queue_dir, 5)
    queue.store.set_setting("retention.days", 1)
    workers = [start_worker("--slots", "1") for _ in range(3)]

    def runs() -> int:
        return sum(w.output().count("retention (1 days): pruned") for w in workers)

    wait_for(lambda: runs() == 1, timeout=60)
    assert queue.stats()["total"] == 0 and rows_of(queue_dir, first)["events"] == 0
    result = queue.store.setting("retention.last_result")
    assert result["jobs"] == 5 and result["keep_data"] is True
    second = _fill(queue, queue_dir, 3)           # old too, but today's turn is taken
    queue.submit(["true"]).wait(60)               # (the workers saw the queue change)
    assert all(queue.get(i) for i in second) and runs() == 1
    queue.store.set_setting("retention.last_run", time.time() - DAY - 1)     # a day later
    wait_for(lambda: runs() == 2, timeout=60)
    assert rows_of(queue_dir, second)["jobs"] == 0
    assert queue.stats()["total"] == 1            # the job that ended just now stays


def test_of_many_stores_asking_at_once_one_takes_the_days_turn(queue_dir: Path) -> None:
    jobmagics.Queue(queue_dir)
    stores = [Store(QueueLayout(queue_dir)) for _ in range(6)]
    start = threading.Barrier(len(stores))
    now = time.time()

    def ask(store: Store) -> bool:
        start.wait()
        return store.take_retention_turn(now, DAY)

    with ThreadPoolExecutor(len(stores)) as pool:
        answers = list(pool.map(ask, stores))
    assert answers.count(True) == 1
    assert not stores[0].take_retention_turn(now + DAY - 1, DAY)
    assert stores[1].take_retention_turn(now + DAY, DAY)


def test_a_job_whose_notification_is_not_sent_yet_stays_until_it_is(
        queue: jobmagics.Queue, queue_dir: Path) -> None:
    job = queue.submit(["true"], notify=["webhook:http://127.0.0.1:9/hook"])
    queue.cancel(job.id)                         # its notification waits in the outbox
    age(queue_dir, [job.id])
    report = queue.prune("1d", keep_data=False)
    assert report.jobs == 0 and report.kept_unsent == 1
    with sqlite3.connect(queue_dir / "jobs.db") as conn:
        assert conn.execute("SELECT count(*) FROM outbox WHERE job_id = ?",
                            (job.id,)).fetchone()[0] == 1
        conn.execute("UPDATE outbox SET sent_at = ? WHERE job_id = ?", (time.time(), job.id))
    assert queue.prune("1d", keep_data=False).jobs == 1
    assert rows_of(queue_dir, [job.id])["outbox"] == 0


def test_a_folder_of_a_jobs_files_goes_with_it_and_a_link_never_takes_its_target(
        queue: jobmagics.Queue, queue_dir: Path, tmp_path: Path) -> None:
    job = queue.submit(["true"])
    queue.cancel(job.id)
    folder = queue_dir / "outputs" / job.id
    (folder / "plots").mkdir(parents=True)
    (folder / "plots" / "a.png").write_bytes(b"x" * 10_000)
    precious = tmp_path / "precious.txt"
    precious.write_text("not the queue's")
    (queue_dir / "data" / f"{job.id}.h5").symlink_to(precious)
    (folder / "link").symlink_to(precious)
    age(queue_dir, [job.id])
    report = queue.prune("1d", keep_data=False)
    assert report.jobs == 1 and report.files == 2 and report.bytes >= 10_000
    assert not folder.exists() and not (queue_dir / "data" / f"{job.id}.h5").is_symlink()
    assert precious.read_text() == "not the queue's"
