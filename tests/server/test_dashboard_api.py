"""The sidebar's dashboard routes (``GET dashboard``, ``POST resources/<name>/pause|resume``,
``POST queue/pause|resume``) and each row's ``may``, through a real jupyter_server on a real
queue, with real workers (one serving ``hardware``) and jobs of two accounts."""
from __future__ import annotations

import asyncio
import pwd
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from kernel_worker import spawn
from kernel_worker.spawning import WorkerHandle
from tests.server.conftest import ROOT


@pytest.fixture
def start(server_queue: Path, tmp_path: Path) -> Iterator[Callable[..., WorkerHandle]]:
    """``start(*worker_args)``: a real worker on the server's queue, stopped after the test."""
    started: list[WorkerHandle] = []

    def launch(*args: str) -> WorkerHandle:
        worker = spawn(server_queue, *args, log=tmp_path / f"worker{len(started)}.log", cwd=ROOT)
        started.append(worker)
        return worker

    yield launch
    for worker in started:
        worker.stop(timeout=20)


async def until(predicate: Callable[[], object], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout} s: {predicate}"
        await asyncio.sleep(0.05)


def resource(board: dict[str, Any], name: str) -> dict[str, Any]:
    [found] = [r for r in board["resources"] if r["name"] == name]
    return found


async def test_the_dashboard_names_the_holder_the_waiting_and_what_runs_next(
        api: Any, q: jobmagics.Queue, server_queue: Path, submit_as: Any, other_user: str,
        start: Callable[..., WorkerHandle]) -> None:
    start("--slots", "2")
    start("--slots", "1", "--resource", "hardware")
    holder = q.submit(["sleep", "60"], resources=["hardware"], name="rabi")
    await until(lambda: q.get(holder.id).state.value == "running")
    theirs = submit_as(server_queue, command=["sleep", "60"], resources=["hardware"], name="t1")
    mine = q.submit(["sleep", "60"], resources=["hardware"], name="t2")
    status, board = await api("GET", "dashboard")
    assert status == 200, board
    hardware = resource(board, "hardware")
    assert [(j["id"], j["name"], j["user"]) for j in hardware["running"]] == [
        (holder.id, "rabi", q.user)]
    assert hardware["waiting"] == 2 and hardware["in_use"] == 1 and hardware["paused"] is False
    assert hardware["next"] == {"id": theirs, "name": "t1", "user": other_user}
    assert [j["id"] for j in board["queue"]["next"]] == [theirs, mine.id]
    assert board["queue"]["running"] == 1 and board["queue"]["pending"] == 2
    assert board["queue"]["stored"] == 3
    assert sorted(w["resources"].get("hardware", 0) for w in board["workers"]) == [0, 1]
    assert all(w["alive"] and not w["draining"] for w in board["workers"])
    assert sum(w["slots_in_use"] for w in board["workers"]) == 1
    assert board["warnings"] == [] and board["may_pause"] is True
    q.move(mine.id, top=True)
    _, board = await api("GET", "dashboard")
    assert resource(board, "hardware")["next"]["id"] == mine.id
    assert board["queue"]["next"][0]["id"] == mine.id
    q.apply("cancel", [holder.id, mine.id])


async def test_a_job_no_live_worker_serves_is_warned_until_such_a_worker_starts(
        api: Any, q: jobmagics.Queue, start: Callable[..., WorkerHandle]) -> None:
    start("--slots", "2")
    job = q.submit(["sleep", "60"], resources=["hardware"])
    _, board = await api("GET", "dashboard")
    assert board["warnings"] == ["No live worker serves hardware: 1 pending job needs it"]
    start("--slots", "1", "--resource", "hardware")
    _, board = await api("GET", "dashboard")
    assert board["warnings"] == []
    q.cancel(job.id)


async def test_an_admin_pauses_and_resumes_a_resource_and_the_queue(
        api: Any, q: jobmagics.Queue) -> None:
    status, board = await api("POST", "resources/hardware/pause")
    assert status == 200, board
    assert resource(board, "hardware")["paused"] is True
    assert q.stats()["resources"]["hardware"]["paused"] is True
    status, board = await api("POST", "resources/hardware/resume")
    assert status == 200 and resource(board, "hardware")["paused"] is False
    status, board = await api("POST", "queue/pause")
    assert status == 200 and board["paused"] is True and q.stats()["paused"] is True
    status, board = await api("POST", "queue/resume")
    assert status == 200 and board["paused"] is False and q.stats()["paused"] is False


async def test_an_unknown_resource_is_refused_in_one_sentence_and_nothing_changes(
        api: Any, q: jobmagics.Queue) -> None:
    before = q.stats()["resources"]
    status, body = await api("POST", "resources/nosuch/pause")
    assert status == 400 and body["error"] == "unknown resource 'nosuch'", body
    assert q.stats()["resources"] == before


async def test_a_non_admin_may_not_pause_and_nothing_changes(
        api: Any, q: jobmagics.Queue, other_user: str, jobmagics_app: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The server acts as the account it runs as (here root, who may): serve the queue as the
    # other account would see it, a queue it neither owns nor administers.
    account = pwd.getpwnam(other_user)
    queue = jobmagics.Queue(q.path)
    queue.user = other_user
    monkeypatch.setattr(jobmagics_app, "get_queue", lambda: queue)
    monkeypatch.setattr("jobmagics.client.os.getuid", lambda: account.pw_uid)
    _, board = await api("GET", "dashboard")
    assert board["may_pause"] is False
    for route in ("resources/hardware/pause", "queue/pause"):
        status, body = await api("POST", route)
        assert status == 403 and body["type"] == "PermissionDenied", body
        assert body["error"].count(".") <= 1 and other_user in body["error"]
    assert q.stats()["paused"] is False
    assert q.stats()["resources"]["hardware"]["paused"] is False


# ---- may: what the caller may do to each row ------------------------------------------------

async def rows(api: Any) -> dict[str, list[str]]:
    _, page = await api("GET", "jobs", params={"limit": "100"})
    return {j["id"]: j["may"] for j in page["jobs"]}


async def test_may_lists_the_allowed_actions_for_owner_other_user_and_admin(
        api: Any, q: jobmagics.Queue, server_queue: Path, submit_as: Any) -> None:
    pending = q.submit(["sleep", "60"])
    held = q.submit(["sleep", "60"], hold=True)
    cancelled = q.submit(["sleep", "60"])
    q.cancel(cancelled.id)
    theirs = submit_as(server_queue, command=["sleep", "60"])
    may = await rows(api)
    assert may[pending.id] == ["cancel", "hold", "move", "edit"]
    assert may[held.id] == ["cancel", "release", "move", "edit"]
    assert may[cancelled.id] == ["retry"]
    assert may[theirs] == []                     # not mine, and I am not an admin
    _, queue_page = await api("GET", "queue")
    assert {j["id"]: j["may"] for j in queue_page["jobs"]}[theirs] == []
    q.add_admin(q.user)
    may = await rows(api)
    assert may[theirs] == ["cancel", "hold", "move", "edit"]
    status, body = await api("POST", f"jobs/{theirs}/hold")
    assert status == 200 and body["job"]["may"] == ["cancel", "release", "move", "edit"]


async def test_may_follows_a_job_through_a_worker(
        api: Any, q: jobmagics.Queue, start: Callable[..., WorkerHandle]) -> None:
    start("--slots", "2")
    running = q.submit(["sleep", "60"])
    failed = q.submit(["false"])
    done = q.submit(["true"])
    await until(lambda: q.get(running.id).state.value == "running"
                and q.get(failed.id).done and q.get(done.id).done)
    may = await rows(api)
    assert (may[running.id], may[failed.id], may[done.id]) == (["cancel"], ["retry"], [])
    _, one = await api("GET", f"jobs/{failed.id}")
    assert one["job"]["may"] == ["retry"]
    q.cancel(running.id)
