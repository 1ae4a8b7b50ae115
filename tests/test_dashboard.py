"""The dashboard as plain data (``jobmagics.dashboard``) and the per-row ``may`` it rests on
(``store.rules``): on real queues in tmp_path, jobs put in each state the way a worker puts
them (claim, finish) through the store."""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import psutil
import pytest

import jobmagics
from jobmagics.dashboard import dashboard
from jobmagics.errors import InvalidTransition
from jobmagics.model import State, WorkerRecord
from jobmagics.store import Capacity, rules

WORKER = "test-worker"


def register(q: jobmagics.Queue, resources: dict[str, int] | None = None) -> None:
    now = time.time()
    q.store.register_worker(WorkerRecord(
        id=WORKER, host=socket.gethostname(), pid=os.getpid(),
        pid_started=psutil.Process().create_time(), user=q.user,
        started_at=now, heartbeat_at=now, slots=4, memory=None, resources=resources or {},
        only_user=None, state="running"))


def job_in(q: jobmagics.Queue, state: str) -> str:
    """A fresh job in ``state`` ('held' and 'blocked': waiting so), put there by the store's
    own steps: submit, hold, cancel, a worker's claim and finish."""
    if state == "blocked":
        parent = q.submit(["true"], hold=True).id
        return q.submit(["true"], after=[parent]).id
    top = max([j.last_read.priority for j in q.jobs()] or [0]) + 1
    job = q.submit(["true"], priority=top)      # above every other: the claim takes it
    if state == "held":
        q.hold(job.id)
    elif state == "cancelled":
        q.cancel(job.id)
    elif state in ("running", "completed", "failed", "timeout"):
        claimed = q.store.claim(WORKER, Capacity(slots=4, memory=1 << 40), 1)
        assert [c.id for c in claimed] == [job.id]
        if state != "running":
            q.store.finish(job.id, WORKER, State(state), 0 if state == "completed" else 1, None)
    return job.id


STATES = ["pending", "held", "blocked", "running", "completed", "failed", "cancelled", "timeout"]


@pytest.mark.parametrize("state", STATES)
def test_may_lists_exactly_the_moves_the_store_then_takes(tmp_path: Path, state: str) -> None:
    q = jobmagics.Queue(tmp_path / "q")
    register(q)
    allowed = rules.allowed(q.get(job_in(q, state)).record)
    for action in rules.RULES:
        job_id = job_in(q, state)         # a fresh one each time: a move changes the job
        try:
            if action == "move":
                q.move(job_id, top=True)
            elif action == "edit":
                q.update(job_id, name="renamed")
            else:
                q.apply(action, [job_id])
        except InvalidTransition:
            assert action not in allowed, f"{action} of a {state} job: may says yes, store no"
        else:
            assert action in allowed, f"{action} of a {state} job: may says no, store yes"


def test_may_walks_the_states_as_expected(tmp_path: Path) -> None:
    q = jobmagics.Queue(tmp_path / "q")
    register(q)
    expected = {"pending": ["cancel", "hold", "move", "edit"],
                "held": ["cancel", "release", "move", "edit"],
                "blocked": ["cancel", "hold", "move", "edit"],
                "running": ["cancel"], "completed": [], "failed": ["retry"],
                "cancelled": ["retry"], "timeout": ["retry"]}
    found = {state: rules.allowed(q.get(job_in(q, state)).record) for state in expected}
    assert found == expected


def test_the_dashboard_names_the_holder_the_waiting_and_the_next_of_a_resource(
        tmp_path: Path) -> None:
    q = jobmagics.Queue(tmp_path / "q")
    register(q, {"hardware": 1})
    holder = q.submit(["true"], resources=["hardware"], name="rabi")
    q.store.claim(WORKER, Capacity(slots=4, memory=1 << 40, resources={"hardware": 1}), 1)
    first = q.submit(["true"], resources=["hardware"], name="t1")
    second = q.submit(["true"], resources=["hardware"], name="t2")
    q.submit(["true"], resources=["hardware"], hold=True)
    plain = q.submit(["true"], name="plain")
    board = dashboard(q)
    [hardware] = [r for r in board["resources"] if r["name"] == "hardware"]
    assert [j["id"] for j in hardware["running"]] == [holder.id]
    assert hardware["running"][0]["name"] == "rabi"
    assert hardware["waiting"] == 3 and hardware["in_use"] == 1
    assert hardware["next"] == {"id": first.id, "name": "t1", "user": q.user}
    assert [j["id"] for j in board["queue"]["next"]] == [first.id, second.id, plain.id]
    q.move(second.id, top=True)
    board = dashboard(q)
    [hardware] = [r for r in board["resources"] if r["name"] == "hardware"]
    assert hardware["next"]["id"] == second.id
    assert board["queue"]["next"][0]["id"] == second.id
    assert board["queue"]["stored"] == 5 and board["queue"]["running"] == 1
    assert board["workers"][0]["slots_in_use"] == 1


def test_what_runs_next_passes_over_a_paused_resource_and_a_paused_queue(tmp_path: Path) -> None:
    q = jobmagics.Queue(tmp_path / "q")
    needs = q.submit(["true"], resources=["hardware"])
    plain = q.submit(["true"])
    q.pause("hardware")
    board = dashboard(q)
    assert [j["id"] for j in board["queue"]["next"]] == [plain.id]
    assert [r["paused"] for r in board["resources"] if r["name"] == "hardware"] == [True]
    assert board["resources"][0]["next"] == {"id": needs.id, "name": None, "user": q.user}
    q.pause()
    board = dashboard(q)
    assert board["paused"] is True and board["queue"]["next"] == []


def test_warnings_name_pending_jobs_no_live_worker_can_run(tmp_path: Path) -> None:
    q = jobmagics.Queue(tmp_path / "q")
    q.submit(["true"], resources=["hardware"])
    q.submit(["true"])
    assert dashboard(q)["warnings"] == ["No live worker: 2 pending jobs wait for one"]
    register(q)                                  # alive (this process), serves no hardware
    assert dashboard(q)["warnings"] == ["No live worker serves hardware: 1 pending job needs it"]
    register(q, {"hardware": 1})
    assert dashboard(q)["warnings"] == []
