"""Scenario 2: workers SIGKILLed mid-job, again and again, while others keep serving."""
from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import jobmagics
from tests.conftest import WorkerProcess, wait_for
from tests.reliability.invariants import Evidence, check_invariants, figure, sized

KILLS = sized(10, 50)
WORKER_ARGS = ("--slots", "2", "--resource", "hardware", "--no-kernel")


@dataclass
class Kill:
    at: float
    worker: str
    jobs: list[str]


def submit_batch(queue: jobmagics.Queue, evidence: Evidence, n: int, offset: int) -> list[str]:
    specs = []
    for i in range(offset, offset + n):
        hardware = i % 5 == 0
        specs.append({"command": evidence.command(0.4, "hardware" if hardware else None),
                      "resources": ["hardware"] if hardware else [],
                      "retries": 0 if i % 4 == 0 else 3, "retry_delay": 0.05})
    return [j.id for j in queue.submit_many(specs)]


def pick_victim(queue: jobmagics.Queue, workers: list[WorkerProcess], rng: random.Random) -> tuple[WorkerProcess, Kill] | None:
    """A live worker with at least one job that has started its process."""
    by_pid = {w["pid"]: w["id"] for w in queue.workers(alive_only=True)}
    busy = []
    for w in workers:
        worker_id = by_pid.get(w.pid)
        jobs = [j.id for j in queue.store.running_on(worker_id)] if worker_id else []
        if jobs and all(queue.store.pid_of(j)[0] for j in jobs):
            busy.append((w, worker_id, jobs))
    if not busy:
        return None
    w, worker_id, jobs = rng.choice(busy)
    return w, Kill(0.0, worker_id, jobs)


def attempt_outcome(queue: jobmagics.Queue, job_id: str, worker: str) -> dict | None:
    """The event that ended the job's attempt on `worker` (None while that attempt has no end)."""
    events = queue.events(job_id)
    starts = [i for i, e in enumerate(events)
              if e["state"] == "running" and (e["detail"] or "").endswith(f" on {worker}")]
    assert starts, f"{job_id} never ran on {worker}: {events}"
    after = events[starts[-1] + 1:]
    return after[0] if after else None


def recovery_latencies(queue: jobmagics.Queue, kills: list[Kill]) -> tuple[list[float], int]:
    """Every job a killed worker still held got a "worker lost" transition (requeued or failed).

    A job picked as the victim's may end in the instant between the pick and the SIGKILL; the
    victim itself then recorded its end (a dead process writes nothing), and no recovery is owed.
    """
    latencies, finished_first = [], 0
    for kill in kills:
        for job_id in kill.jobs:
            end = attempt_outcome(queue, job_id, kill.worker)
            assert end is not None, f"{job_id} of killed worker {kill.worker} was never recovered"
            if not (end["detail"] or "").startswith(f"worker lost: {kill.worker}"):
                assert end["state"] in ("completed", "failed", "pending"), end
                finished_first += 1
                continue
            assert end["state"] in ("pending", "failed"), end
            latencies.append(end["at"] - kill.at)
    return latencies, finished_first


def test_workers_killed_mid_job_have_every_job_requeued_or_failed_as_worker_lost(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], evidence: Evidence) -> None:
    rng = random.Random(2)
    workers = [start_worker(*WORKER_ARGS) for _ in range(3)]
    ids = submit_batch(queue, evidence, 40, 0)
    kills: list[Kill] = []
    while len(kills) < KILLS:
        if queue.count(state="pending") < 6:
            ids += submit_batch(queue, evidence, 20, len(ids))
        chosen = pick_victim(queue, workers, rng)
        if chosen is None:
            time.sleep(0.05)
            continue
        victim, kill = chosen
        kill.at = time.time()
        victim.kill()
        kills.append(kill)
        workers = [w for w in workers if w is not victim] + [start_worker(*WORKER_ARGS)]
        time.sleep(rng.uniform(0, 0.3))
    wait_for(lambda: queue.count(state=["waiting", "pending", "running"]) == 0, timeout=300, interval=0.1)
    verdict = check_invariants(queue, ids, evidence=evidence, slots=2)
    latencies, finished_first = recovery_latencies(queue, kills)
    assert len(latencies) > finished_first, "most victims must still have held running jobs"
    affected = {j for k in kills for j in k.jobs}
    for job in queue.jobs(state="failed", limit=None):
        assert job.id in affected and job.error.startswith("worker lost"), (job.id, job.error)
    figure("worker crashes: kills / affected jobs / final states", f"{len(kills)} / {len(affected)} / {dict(verdict.states)}")
    figure("worker crashes: jobs the victim finished itself between pick and kill", str(finished_first))
    figure("worker crashes: recovery latency (kill -> requeued or failed)",
           f"p50 {statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")


KILLS_ITS_WORKER = r"""
dir=$1; id=$JOBMAGICS_JOB_ID
exec 8>"$dir/locks/$id"
flock -n 8 || { echo "twice $id" >> "$dir/violations"; exit 98; }
if mkdir "$dir/first-$id" 2>/dev/null; then kill -9 $PPID; fi
echo "$id" >> "$dir/starts"
sleep 2
"""


def test_a_worker_killed_the_instant_its_job_starts_never_lets_that_job_run_twice(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], evidence: Evidence) -> None:
    script = evidence.root / "kills_its_worker.sh"
    script.write_text(KILLS_ITS_WORKER)
    rounds = sized(6, 30)
    ids = []
    workers = [start_worker("--slots", "1", "--no-kernel") for _ in range(2)]
    for _ in range(rounds):
        job = queue.submit(command=["sh", str(script), str(evidence.root)], retries=2, retry_delay=0.05)
        ids.append(job.id)
        job.wait(120)
        workers = [w for w in workers if w.process.poll() is None]
        workers += [start_worker("--slots", "1", "--no-kernel") for _ in range(2 - len(workers))]
    check_invariants(queue, ids, evidence=evidence, slots=1)
    assert all(queue.get(i).state == "completed" for i in ids)


LOCKED_PYTHON_JOB = """
import fcntl, os, time
root = {root!r}
fd = os.open(os.path.join(root, "locks", os.environ["JOBMAGICS_JOB_ID"]), os.O_WRONLY | os.O_CREAT)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    open(os.path.join(root, "violations"), "a").write("twice " + os.environ["JOBMAGICS_JOB_ID"] + "\\n")
    raise SystemExit("an earlier attempt of this job is still running")
open(os.path.join(root, "starts"), "a").write(os.environ["JOBMAGICS_JOB_ID"] + "\\n")
time.sleep(3)
os.close(fd)
"""


def test_a_worker_killed_under_a_python_job_in_a_fresh_kernel_never_lets_that_job_run_twice(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess], evidence: Evidence) -> None:
    """The default worker runs python jobs in Jupyter kernels; a lost worker's kernel must not
    keep running the job while its next attempt starts elsewhere."""
    workers = [start_worker("--slots", "1") for _ in range(2)]
    job = queue.submit(code=LOCKED_PYTHON_JOB.format(root=str(evidence.root)), retries=2, retry_delay=0.05)
    wait_for(lambda: sum(evidence.starts().values()) >= 1, 120, 0.05)
    holder = job.refresh().worker
    victim = next(w for w in workers if holder and holder.split(":")[1] == str(w.pid))
    victim.kill()
    assert job.wait(120).state == "completed", (job.error, job.events())
    check_invariants(queue, [job.id], evidence=evidence, slots=1)
    assert job.attempt == 2 and sum(evidence.starts().values()) == 2, job.events()
    lost = [e for e in job.events() if (e["detail"] or "").startswith("worker lost")]
    rerun = [e for e in job.events() if e["state"] == "running" and e["at"] > lost[0]["at"]]
    figure("fresh-kernel job of a killed worker: lost -> next attempt", f"{(rerun[0]['at'] - lost[0]['at']) * 1000:.0f} ms")
