"""The service is killed (SIGKILL, no clean-up) while two members' clients submit, and
started again: every job a client was told was submitted is there and finishes once; while it
is down a client's request fails at once, saying the service is not running."""
from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import jobmagics
from jobmagics.model import TERMINAL
from tests.accounts import as_account
from tests.conftest import wait_for
from tests.reliability.invariants import check_invariants
from tests.service.running import Lab, ServiceProcess, run_as

# submits until the stop file exists; says on stderr each time the service was not there.
# A job running when its worker dies fails unless it may be retried (as in every queue: the
# crash scenarios of tests/reliability retry too), hence retries
SUBMITTER = """
import os, sys, time, jobmagics
from jobmagics.errors import ServiceUnavailable
q, stop = jobmagics.Queue(sys.argv[1]), sys.argv[2]
while not os.path.exists(stop):
    try:
        print(q.submit(command=["true"], cwd="/tmp", retries=2, retry_delay=0.05).id, flush=True)
    except ServiceUnavailable as exc:
        print("down:", exc, file=sys.stderr, flush=True)
        time.sleep(0.05)
    time.sleep(0.005)
"""
ASK_WHILE_DOWN = """
import sys, jobmagics
try:
    jobmagics.Queue(sys.argv[1]).count()
except jobmagics.QueueError as exc:
    print(type(exc).__name__, exc)
"""


def told(out: Path) -> list[str]:
    """The ids a submitter printed: the jobs it was told were submitted."""
    return [line for line in out.read_text().splitlines() if line.startswith("JOB-")]


def test_the_service_survives_sigkill_and_restart_while_members_submit(
        lab: Lab, system_queue: Path, queue_base: Path, service: ServiceProcess,
        root_queue: jobmagics.Queue) -> None:
    stop = queue_base / "stop"
    outs = {user: queue_base / f"{user}.out" for user in (lab.alice, lab.bob)}
    submitters = [subprocess.Popen(as_account(user, "-c", SUBMITTER, str(system_queue), str(stop)),
                                   stdout=out.open("w"), stderr=subprocess.PIPE, text=True,
                                   cwd="/tmp") for user, out in outs.items()]
    try:
        wait_for(lambda: all(len(told(out)) >= 30 for out in outs.values()), 60)
        service.kill()
        down = run_as(lab.alice, ASK_WHILE_DOWN, str(system_queue), timeout=30)  # no hang
        assert down.stdout.startswith("ServiceUnavailable "), down.stderr
        assert f"the jobmagics service for {system_queue} is not running" in down.stdout
        assert "systemctl start" in down.stdout
        before_restart = {user: len(told(out)) for user, out in outs.items()}
        service.start()
        wait_for(lambda: all(len(told(out)) >= before_restart[user] + 30
                             for user, out in outs.items()), 60)
    finally:
        stop.touch()
        errors = [submitter.communicate(timeout=60)[1] for submitter in submitters]
    assert all(submitter.returncode == 0 for submitter in submitters), errors
    assert any("is not running" in error for error in errors), errors
    ids = {user: told(out) for user, out in outs.items()}
    wait_for(lambda: root_queue.count(state=["waiting", "pending", "running"]) == 0, 180, 0.2)
    everything = ids[lab.alice] + ids[lab.bob]
    verdict = check_invariants(root_queue, everything, exact=False, slots=2)
    failed = [(j.id, j.record.error) for j in root_queue.jobs(state=["failed"])]
    assert verdict.states == {"completed": len(everything)}, failed
    for user, job_ids in ids.items():
        assert {root_queue.get(i).user for i in job_ids} == {user}
    endings = {s.value for s in TERMINAL}
    finished = Counter(job.id for job in root_queue.jobs(limit=None)
                       for event in root_queue.events(job.id) if event["state"] in endings)
    assert set(finished.values()) == {1}, "a job finished more than once"
