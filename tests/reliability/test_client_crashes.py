"""Scenario 3: submitters SIGKILLed in the middle of a submit and of a bulk submit."""
from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import jobmagics
from tests.conftest import WorkerProcess, wait_for
from tests.reliability.invariants import Submitters, check_invariants, figure, sized

ROUNDS = sized(8, 40)
BATCH = 2000


def begun_and_acked(ids_file: Path) -> tuple[list[int], set[int]]:
    lines = ids_file.read_text().splitlines() if ids_file.exists() else []
    begun = [int(line.split()[2]) for line in lines if line.startswith("# begin")]
    acked = {int(line.split()[2]) for line in lines if line.startswith("# acked")}
    return begun, acked


def kill_after_begin(submitters: Submitters, name: str, mode: str, args: list[str], delay: float) -> tuple[list[int], set[int]]:
    """Start a submitter, wait until it begins a submission, kill it ``delay`` s later."""
    proc = submitters.start(name, mode, *args)
    ids_file = submitters.out / f"{name}.ids"
    wait_for(lambda: begun_and_acked(ids_file)[0] or proc.poll() is not None, timeout=60)
    assert proc.poll() is None, submitters.log(name)
    time.sleep(delay)
    proc.kill()
    proc.wait()
    return begun_and_acked(ids_file)


def names(queue: jobmagics.Queue) -> Counter[str]:
    return Counter(r["name"] for r in queue.store.db.read("SELECT name FROM jobs"))


def assert_no_half_written_job(queue: jobmagics.Queue) -> None:
    read = queue.store.db.read
    assert read("SELECT count(*) FROM jobs WHERE id NOT IN (SELECT job_id FROM events)")[0][0] == 0
    assert read("SELECT count(*) FROM jobs WHERE kind = 'function'"
                " AND id NOT IN (SELECT job_id FROM payloads)")[0][0] == 0
    assert read("SELECT count(*) FROM payloads WHERE job_id NOT IN (SELECT id FROM jobs)")[0][0] == 0
    assert read("SELECT count(*) FROM events WHERE job_id NOT IN (SELECT id FROM jobs)")[0][0] == 0
    assert queue.store.integrity_check() == "ok"


def test_a_bulk_submit_killed_midway_leaves_all_of_its_jobs_or_none(queue: jobmagics.Queue, submitters: Submitters) -> None:
    started = time.perf_counter()
    queue.submit_many([{"command": ["true"], "name": "calibration", "env": {"PAD": "x" * 200}}] * BATCH)
    one_batch = time.perf_counter() - started
    rng = random.Random(3)
    mid_submit = 0
    for r in range(ROUNDS):
        begun, acked = kill_after_begin(submitters, f"bulk{r}", "bulk", [str(BATCH), f"b{r}"],
                                        rng.uniform(0.1, 1.0) * one_batch)
        mid_submit += begun[-1] not in acked
        stored = names(queue)
        for k in begun:
            count = stored.get(f"b{r}-{k}", 0)
            assert count == (BATCH if k in acked else count) and count in (0, BATCH), (r, k, count)
    assert_no_half_written_job(queue)
    assert set(submitters.acknowledged()) <= {r["id"] for r in queue.store.db.read("SELECT id FROM jobs")}
    assert mid_submit >= 1, "no kill landed inside a bulk submit; the scenario proved nothing"
    figure("client crashes: bulk submits killed mid-submission", f"{mid_submit} of {ROUNDS} kills ({BATCH} jobs each)")


def test_a_submitter_killed_between_or_inside_single_submits_leaves_whole_jobs_that_run(
        queue: jobmagics.Queue, submitters: Submitters, start_worker: Callable[..., WorkerProcess]) -> None:
    rng = random.Random(4)
    for r in range(ROUNDS):
        _, acked = kill_after_begin(submitters, f"single{r}", "single", [f"s{r}"], rng.uniform(0.05, 0.3))
        assert acked, "the submitter never got a job in"
    stored = names(queue)
    assert max(stored.values()) == 1, "a job was stored twice"
    assert_no_half_written_job(queue)
    ids = [r["id"] for r in queue.store.db.read("SELECT id FROM jobs")]
    assert set(submitters.acknowledged()) <= set(ids)
    start_worker("--slots", "2", "--no-kernel")
    wait_for(lambda: queue.count(state=["pending", "running"]) == 0, timeout=300, interval=0.1)
    verdict = check_invariants(queue, ids, slots=2)
    assert verdict.states == {"completed": len(ids)}, verdict.states
    functions = [j for j in queue.jobs(limit=None) if j.kind == "function"]
    assert all(j.result() == int(j.name.split("-")[1]) ** 2 for j in functions)
    figure("client crashes: single-submit kills / jobs stored and run", f"{ROUNDS} / {len(ids)}")
