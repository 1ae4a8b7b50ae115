"""`make bench`: retention on a big queue, saved under "retention" in bench/results.json.

A queue of N finished jobs (default 100,000; three events and a small log file each; see
``make_finished_jobs``) that ended 40 days ago: the time of `du` on it, of a dry run, and of
the prune itself (jobs/s, its longest transaction), with the database's size before and after
and the pages given back. Usage: ``bench_retention.py [--jobs N] [--dir FOLDER]``."""
from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from results import save, stamp

import jobmagics
from jobmagics.model import State, WorkerRecord
from jobmagics.retention_model import PruneReport
from jobmagics.store import Capacity
from jobmagics.store.dispatch import AttemptEnd

BATCH = 1000
TEMPLATE = 2000             # jobs made through the store; the rest copies
WORKER = "bench:retention"
DAY = 86400.0


def make_finished_jobs(queue: jobmagics.Queue, n: int) -> float:
    """N completed jobs that ended 40 days ago, each with a small log file; returns the
    seconds it took. The first ``TEMPLATE`` go the store's own way (submitted, claimed and
    completed as a worker does: three events each); the rest are copies of their rows under
    new ids (the store's paths take about 3 ms a job on this machine: 100,000 would take
    minutes), made in SQL here, as the state_counts triggers see any insert."""
    started = time.monotonic()
    template = min(n, TEMPLATE)
    ids = _complete_through_the_store(queue, template)
    with sqlite3.connect(queue.layout.db) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(jobs)")
                   if r[1] not in ("seq", "id")]
        listed = ", ".join(columns)
        for copy in range(1, -(-n // template)):
            count = min(template, n - copy * template)
            new_id = f"'JOB-20200101-' || printf('%07d', {copy * template} + seq)"
            conn.execute(f"INSERT INTO jobs(id, {listed}) SELECT {new_id}, {listed} FROM jobs"
                         " WHERE seq <= ? ORDER BY seq", (count,))
            conn.execute(f"INSERT INTO events(job_id, at, state, detail) SELECT {new_id}, e.at,"
                         " e.state, e.detail FROM events e JOIN jobs j ON j.id = e.job_id"
                         " WHERE j.seq <= ? ORDER BY e.id", (count,))
        conn.execute("UPDATE jobs SET finished_at = finished_at - ?, submitted_at ="
                     " submitted_at - ?", (40 * DAY, 40 * DAY))
        ids = [r[0] for r in conn.execute("SELECT id FROM jobs")]
    for job_id in ids:
        queue.layout.log(job_id).write_text(f"{job_id} done\n" * 3)
    queue.direct_store().checkpoint()
    return time.monotonic() - started


def _complete_through_the_store(queue: jobmagics.Queue, n: int) -> list[str]:
    store = queue.direct_store()
    now = time.time()
    store.register_worker(WorkerRecord(WORKER, "bench", os.getpid(), now, queue.user, now, now,
                                       BATCH, None, {}, None, "running"))
    capacity = Capacity(slots=BATCH, memory=1 << 50)
    ids: list[str] = []
    for first in range(0, n, BATCH):
        count = min(BATCH, n - first)
        queue.submit_many([{"command": ["echo", str(first + i)], "name": f"bench {first + i}"}
                           for i in range(count)])
        claimed = store.claim(WORKER, capacity, count)
        store.turn(WORKER, ended=[AttemptEnd(job.id, State.COMPLETED, 0, None)
                                  for job in claimed])
        ids += [job.id for job in claimed]
    store.deregister_worker(WORKER)
    return ids


def db_size(queue: jobmagics.Queue) -> int:
    return sum(p.stat().st_size for p in queue.layout.database_files[:2] if p.exists())


def measure(n: int, base: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-retention-", dir=base) as folder:
        queue = jobmagics.Queue(Path(folder) / "queue")
        made_s = make_finished_jobs(queue, n)
        before = db_size(queue)
        started = time.monotonic()
        space = queue.du()
        du_s = time.monotonic() - started
        planned = queue.prune("30d", dry_run=True)
        report: PruneReport = queue.prune("30d")
        return {"jobs": n, "made_s": round(made_s, 1), "db_bytes_before": before,
                "db_bytes_after": db_size(queue), "du_s": round(du_s, 3),
                "du_files_bytes": space.files_total, "dry_run_s": round(planned.seconds, 2),
                "prune_s": round(report.seconds, 2),
                "longest_batch_s": round(report.longest_batch_s, 3),
                "prune_jobs_per_s": round(report.jobs / report.seconds),
                "pruned_jobs": report.jobs, "pruned_files": report.files,
                "pages_freed": report.pages_freed, "vacuum": report.vacuum}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--dir", help="where the queue is made (default: the temp folder;"
                        " /dev/shm leaves the disk out)")
    args = parser.parse_args()
    figures = measure(args.jobs, args.dir) | {"folder": args.dir or tempfile.gettempdir()}
    print(f"retention on {figures['jobs']:,} finished jobs in {figures['folder']}"
          f" (made in {figures['made_s']} s):")
    print(f"  du                {figures['du_s']:.2f} s"
          f" ({figures['du_files_bytes'] / 1e6:.1f} MB of job files)")
    print(f"  prune --dry-run   {figures['dry_run_s']:.2f} s")
    print(f"  prune             {figures['prune_s']:.2f} s = {figures['prune_jobs_per_s']:,} jobs/s"
          f" ({figures['pruned_files']:,} files; longest transaction"
          f" {figures['longest_batch_s'] * 1000:.0f} ms)")
    print(f"  database          {figures['db_bytes_before'] / 1e6:.1f} MB ->"
          f" {figures['db_bytes_after'] / 1e6:.1f} MB ({figures['pages_freed']:,} pages freed;"
          f" {figures['vacuum']})")
    key = "retention" if args.dir is None else "retention_" + Path(args.dir).name
    print(f"saved to {save(key, figures | stamp())}")


if __name__ == "__main__":
    main()
