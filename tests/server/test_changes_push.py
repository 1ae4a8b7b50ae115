"""Push without polling: ``GET changes`` is woken by the server's one watch of the queue folder
(``server.changes.ChangeFeed``) when another process commits, however many long polls wait;
the watch is closed when the server stops. Real jupyter_server, real worker processes."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from kernel_worker import spawn
from kernel_worker.spawning import WorkerHandle
from tests.server.conftest import ROOT


@pytest.fixture
def worker(server_queue: Path, tmp_path: Path) -> Iterator[WorkerHandle]:
    handle = spawn(server_queue, "--slots", "2", log=tmp_path / "worker.log", cwd=ROOT)
    yield handle
    handle.stop(timeout=20)


async def long_poll(api: Any, version: int, timeout: float = 25) -> asyncio.Future[Any]:
    return asyncio.ensure_future(api("GET", "changes", params={"version": str(version),
                                                               "timeout": str(timeout)}))


async def until_watched(app: Any) -> None:
    """Until the long polls sent reach the server's feed (then a little more: all of them)."""
    for _ in range(400):
        if app._feed is not None:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)


async def test_a_worker_finishing_a_job_answers_the_long_poll_with_the_new_version(
        api: Any, q: jobmagics.Queue, worker: WorkerHandle, jobmagics_app: Any) -> None:
    job = q.submit(["sleep", "1"])
    while True:                          # each answer is a commit; follow them to the end
        _, page = await api("GET", "queue")
        if q.get(job.id).done:
            break
        status, body = await asyncio.wait_for(await long_poll(api, page["version"]), 30)
        assert status == 200 and body["changed"] is True
        assert body["version"] != page["version"]
    assert q.get(job.id).state.value == "completed"
    assert jobmagics_app._feed is not None and jobmagics_app._feed.watching
    assert jobmagics_app._feed.wakes >= 1


async def test_many_long_polls_share_one_watch_and_all_answer(
        api: Any, q: jobmagics.Queue, server_queue: Path, submit_as: Any,
        jobmagics_app: Any) -> None:
    _, board = await api("GET", "dashboard")
    waiting = [await long_poll(api, board["version"]) for _ in range(4)]
    await until_watched(jobmagics_app)
    feed = jobmagics_app._feed
    assert feed is not None and not any(w.done() for w in waiting)
    await asyncio.get_running_loop().run_in_executor(
        None, lambda: submit_as(server_queue, command=["true"]))
    answers = await asyncio.wait_for(asyncio.gather(*waiting), 20)
    assert all(status == 200 and body["changed"] for status, body in answers)
    assert jobmagics_app._feed is feed


async def test_versions_from_every_route_agree_so_nothing_changed_means_no_answer(
        api: Any, q: jobmagics.Queue) -> None:
    q.submit(["sleep", "60"])
    versions = set()
    for route in ("dashboard", "queue", "jobs", "dashboard", "queue", "jobs"):
        _, body = await api("GET", route)
        versions.add(body["version"])
    assert len(versions) == 1
    status, body = await api("GET", "changes", params={"version": str(versions.pop()),
                                                       "timeout": "0.5"})
    assert status == 200 and body["changed"] is False


async def test_the_watch_is_closed_when_the_server_stops(api: Any, jobmagics_app: Any) -> None:
    _, board = await api("GET", "dashboard")
    waiting = await long_poll(api, board["version"])
    await until_watched(jobmagics_app)
    feed = jobmagics_app._feed
    assert feed is not None and feed.watching
    await jobmagics_app.stop_extension()
    assert jobmagics_app._feed is None and not feed.watching
    status, body = await asyncio.wait_for(waiting, 20)     # woken: it answers, unchanged
    assert status == 200 and body["changed"] is False


async def test_the_answer_says_which_parts_moved_so_a_hold_does_not_reread_the_history(
        api: Any, q: jobmagics.Queue, jobmagics_app: Any) -> None:
    job = q.submit(["sleep", "60"])
    _, page = await api("GET", "queue")
    _, first = await api("GET", "changes", params={"version": "-1", "timeout": "0"})
    assert first["version"] == page["version"] and set(first["topics"]) == {"ended", "schedules"}

    async def answer_to(act: Any) -> dict[str, Any]:
        _, seen = await api("GET", "changes", params={"version": "-1", "timeout": "0"})
        waiting = await long_poll(api, seen["version"])
        await until_watched(jobmagics_app)
        await asyncio.get_running_loop().run_in_executor(None, act)
        status, body = await asyncio.wait_for(waiting, 20)
        assert status == 200 and body["changed"] and body["version"] > seen["version"]
        return {topic: body["topics"][topic] - seen["topics"][topic] for topic in body["topics"]}

    assert await answer_to(lambda: q.hold(job.id)) == {"ended": 0, "schedules": 0}
    assert (await answer_to(lambda: q.cancel(job.id)))["ended"] > 0


async def test_a_long_poll_asked_to_include_the_queue_brings_the_page_read_after_the_change(
        api: Any, q: jobmagics.Queue, jobmagics_app: Any) -> None:
    _, seen = await api("GET", "changes", params={"version": "-1", "timeout": "0"})
    waiting = asyncio.ensure_future(api("GET", "changes", params={
        "version": str(seen["version"]), "timeout": "25", "include": "queue", "limit": "5"}))
    await until_watched(jobmagics_app)
    job = await asyncio.get_running_loop().run_in_executor(None, lambda: q.submit(["true"]))
    status, body = await asyncio.wait_for(waiting, 20)
    assert status == 200 and body["changed"]
    page = body["queue"]
    assert job.id in [j["id"] for j in page["jobs"]] and page["limit"] == 5
    assert page["version"] >= body["version"] and "ended" in page["topics"]
    _, same = await api("GET", "queue", params={"limit": "5"})
    assert [j["id"] for j in same["jobs"]] == [j["id"] for j in page["jobs"]]


async def test_a_long_poll_that_times_out_carries_no_page_and_a_bad_include_is_refused(
        api: Any) -> None:
    _, seen = await api("GET", "changes", params={"version": "-1", "timeout": "0"})
    status, body = await api("GET", "changes", params={
        "version": str(seen["version"]), "timeout": "0.3", "include": "queue"})
    assert status == 200 and body["changed"] is False and "queue" not in body
    status, body = await api("GET", "changes", params={"version": "0", "include": "jobs"})
    assert status == 400 and "include may be 'queue'" in body["error"]
    status, body = await api("GET", "changes", params={"include": "queue", "limit": "-1"})
    assert status == 400 and "limit must be at least 0" in body["error"]
