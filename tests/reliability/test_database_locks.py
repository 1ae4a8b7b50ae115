"""Scenario 5b: a process holding the write lock for 5 s, and a stray reader pinning the WAL."""
from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jobmagics
from tests.conftest import WorkerProcess, wait_for
from tests.reliability.invariants import (
    HELPERS,
    Evidence,
    Submitters,
    check_invariants,
    figure,
    sized,
)


def hold(queue: jobmagics.Queue, mode: str, arg: str) -> subprocess.Popen[str]:
    holder = subprocess.Popen([sys.executable, str(HELPERS / "hold_lock.py"), str(queue.layout.db), mode, arg],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_five_second_write_lock_makes_everyone_wait_and_then_lose_nothing(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], submitters: Submitters,
        evidence: Evidence) -> None:
    worker = start_worker("--slots", "2", "--resource", "hardware", "--resource", "gpu=2", "--no-kernel")
    first = [j.id for j in queue.submit_many([{"command": evidence.command(0.5)}] * 4)]
    wait_for(lambda: queue.count(state="running") == 2, 30)
    locked_at = time.monotonic()
    holder = hold(queue, "write", "5")
    procs = [submitters.start(f"s{i}", "load", "50", str(i), str(evidence.root)) for i in range(4)]
    cli = subprocess.run([sys.executable, "-m", "jobmagics", "--queue", str(queue.path), "submit", "--", "true"],
                         capture_output=True, text=True, timeout=120, check=False)
    cli_waited = time.monotonic() - locked_at
    assert holder.wait(60) == 0
    assert cli.returncode == 0, cli.stderr
    for i, proc in enumerate(procs):
        assert proc.wait(120) == 0, submitters.log(f"s{i}")
    ids = first + submitters.acknowledged() + [cli.stdout.strip()]
    wait_for(lambda: queue.count(state=["pending", "running"]) == 0, 120, 0.1)
    assert worker.process.poll() is None, worker.output()[-2000:]
    verdict = check_invariants(queue, ids, evidence=evidence, slots=2)
    assert verdict.states == {"completed": len(ids)}, verdict.states
    figure("write lock held 5 s: a CLI submit waited, then succeeded", f"{cli_waited:.1f} s")


def wal_size(queue: jobmagics.Queue) -> int:
    path = Path(f"{queue.layout.db}-wal")
    return path.stat().st_size if path.exists() else 0


def churn(queue: jobmagics.Queue, n: int) -> None:
    queue.submit_many([{"command": ["true"], "env": {"PAD": "x" * 500}}] * n)
    wait_for(lambda: queue.count(state=["pending", "running"]) == 0, 300, 0.1)


def completed_in_main_file(queue: jobmagics.Queue, tmp_path: Path) -> int:
    """Completed jobs the main db file holds by itself, without its WAL: what was checkpointed."""
    copy = tmp_path / "main-only.db"
    shutil.copy(queue.layout.db, copy)
    conn = sqlite3.connect(copy)
    try:
        return int(conn.execute("SELECT count(*) FROM jobs WHERE state = 'completed'").fetchone()[0])
    finally:
        conn.close()


def test_a_stray_reader_grows_the_wal_only_while_it_holds_and_an_idle_checkpoint_bounds_it(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], tmp_path: Path) -> None:
    start_worker("--slots", "2", "--no-kernel")
    n = sized(400, 2000)
    release = tmp_path / "release"
    before = wal_size(queue)
    reader = hold(queue, "read", str(release))
    churn(queue, n)                                    # WAL frames pile up behind the reader
    pinned = wal_size(queue)
    release.touch()
    assert reader.wait(30) == 0
    wait_for(lambda: completed_in_main_file(queue, tmp_path) == n, 30, 0.5)   # the idle checkpoint
    churn(queue, n)                                    # the same work twice more, nobody pinning
    churn(queue, n)
    after = wal_size(queue)
    assert after - pinned < (pinned - before) // 10, f"the WAL kept growing after the reader left: {pinned} -> {after}"
    assert queue.store.integrity_check() == "ok" and queue.count(state="completed") == 3 * n
    figure("stray reader: WAL while pinned / after two more equal loads",
           f"{pinned / 1e6:.1f} MB / {after / 1e6:.1f} MB (file reused after the idle checkpoint)")


def _open_at(path: str, start: float, results: Any) -> None:
    """In a forked child: wait for the common start, open the fresh folder, submit one job."""
    while time.time() < start:
        pass
    try:
        results.put(jobmagics.Queue(path).submit(command=["true"]).id)
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        results.put(f"{type(exc).__name__}: {exc}")


def test_a_fresh_queue_folder_opened_by_eight_processes_at_once_always_opens(tmp_path: Path) -> None:
    """The README's `worker &` then `submit`: every opener of a new folder succeeds and gets its
    own id (it was "cannot create .../logs: File exists" or a busy journal-mode switch)."""
    context = multiprocessing.get_context("fork")
    rounds, failures = sized(15, 100), []
    for n in range(rounds):
        results = context.Queue()
        start = time.time() + 0.2
        children = [context.Process(target=_open_at, args=(str(tmp_path / f"q{n}" / "queue"), start, results))
                    for _ in range(8)]
        for child in children:
            child.start()
        got = [results.get(timeout=120) for _ in children]
        for child in children:
            child.join(60)
        ids = [g for g in got if g.startswith("JOB-")]
        failures += [g for g in got if g not in ids]
        assert len(set(ids)) == len(ids), f"an id handed out twice: {ids}"
    assert not failures, f"{len(failures)} of {8 * rounds} opens failed, e.g. {failures[0]}"
    figure("fresh folder opened by 8 processes at once", f"{8 * rounds} opens in {rounds} rounds, all succeeded")
