"""Arrays through the REST API: one row each (``GET arrays``, and ``arrays`` beside the jobs of
``GET queue``), ``GET arrays/<id>`` with a page of its elements, and the action routes taking an
array's id. A real jupyter_server on a real queue; a real worker where jobs must run."""
from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest

import jobmagics
from tests.accounts import as_account

SLEEP = ["sleep", "60"]


def sleepers(q: jobmagics.Queue, count: int, parallel: int | None = None,
             **options: Any) -> jobmagics.JobArray:
    """An array whose elements stay queued: no worker runs here unless a test starts one."""
    return q.submit_array(SLEEP, items=range(count), parallel=parallel, **options)


async def test_an_array_is_one_row_beside_the_jobs_of_the_queue(
        api: Any, q: jobmagics.Queue) -> None:
    plain = q.submit(SLEEP, name="plain")
    array = sleepers(q, 3, parallel=2, name="sweep")
    status, body = await api("GET", "queue")
    assert status == 200, body
    assert [j["id"] for j in body["jobs"]] == [plain.id]
    assert body["counts"] == {"running": 0, "pending": 1, "waiting": 0} and body["total"] == 1
    (row,) = body["arrays"]
    assert (row["id"], row["name"], row["size"], row["parallel"]) == (array.id, "sweep", 3, 2)
    assert row["state"] == "pending" and row["progress"] == 0.0
    assert row["counts"]["pending"] == 2 and row["counts"]["waiting"] == 1
    assert row["array"] is True and row["can_act"] is True and row["user"] == q.user


async def test_the_queue_lists_the_elements_as_jobs_when_asked(api: Any, q: jobmagics.Queue) -> None:
    plain = q.submit(SLEEP)
    array = sleepers(q, 3)
    status, body = await api("GET", "queue", params={"elements": "1"})
    assert status == 200
    assert sorted(j["id"] for j in body["jobs"]) == sorted(
        [plain.id] + [f"{array.id}_{i}" for i in range(3)])
    assert body["total"] == 4 and body["arrays"] == []


async def test_the_arrays_route_lists_active_arrays_newest_first_or_all_of_them(
        api: Any, q: jobmagics.Queue) -> None:
    first, second, third = sleepers(q, 2), sleepers(q, 2), sleepers(q, 2)
    second.cancel()
    status, body = await api("GET", "arrays")
    assert status == 200 and body["active"] is True
    assert [a["id"] for a in body["arrays"]] == [third.id, first.id]
    _, everything = await api("GET", "arrays", params={"active": "0"})
    assert [a["id"] for a in everything["arrays"]] == [third.id, second.id, first.id]
    cancelled = everything["arrays"][1]
    assert cancelled["state"] == "cancelled" and cancelled["progress"] == 1.0
    assert cancelled["finished_at"] is not None
    _, limited = await api("GET", "arrays", params={"active": "0", "limit": "1"})
    assert [a["id"] for a in limited["arrays"]] == [third.id]
    _, nobodys = await api("GET", "arrays", params={"user": "nobody-here"})
    assert nobodys["arrays"] == []
    _, mine = await api("GET", "arrays", params={"mine": "1"})
    assert len(mine["arrays"]) == 2


async def test_the_array_route_pages_its_elements_by_index(api: Any, q: jobmagics.Queue) -> None:
    array = sleepers(q, 250, parallel=10)
    status, body = await api("GET", f"arrays/{array.id}")
    assert status == 200, body
    assert body["array"]["id"] == array.id and body["array"]["size"] == 250
    assert [e["array_index"] for e in body["elements"]] == list(range(100))
    assert body["elements"][7]["id"] == f"{array.id}_7"
    assert all(e["brief"] and e["array_id"] == array.id for e in body["elements"])
    assert (body["offset"], body["limit"], body["total"], body["more"]) == (0, 100, 250, 150)
    _, last = await api("GET", f"arrays/{array.id}", params={"offset": "200"})
    assert [e["array_index"] for e in last["elements"]] == list(range(200, 250))
    assert last["more"] == 0
    _, pending = await api("GET", f"arrays/{array.id}", params={"state": "pending", "limit": "5"})
    assert [e["array_index"] for e in pending["elements"]] == list(range(5))
    assert (pending["total"], pending["more"]) == (10, 5)


@pytest.mark.parametrize(("params", "words"), [
    ({"offset": "-1"}, "offset"),
    ({"limit": "100000"}, "limit"),
    ({"state": "sleeping"}, "sleeping"),
])
async def test_a_malformed_page_of_elements_is_400(
        api: Any, q: jobmagics.Queue, params: dict[str, str], words: str) -> None:
    array = sleepers(q, 2)
    status, body = await api("GET", f"arrays/{array.id}", params=params)
    assert status == 400 and words in body["error"]


async def test_an_unknown_id_or_a_plain_job_is_no_array(api: Any, q: jobmagics.Queue) -> None:
    job = q.submit(SLEEP)
    status, body = await api("GET", f"arrays/{job.id}")
    assert status == 404 and body["type"] == "JobNotFound"
    assert f"{job.id} is one job, not an array" in body["error"]
    status, body = await api("GET", "arrays/JOB-20000101-00042")
    assert status == 404 and "JOB-20000101-00042" in body["error"]
    status, body = await api("GET", "arrays/not-an-id")
    assert status == 400
    status, body = await api("GET", "arrays", params={"active": "maybe"})
    assert status == 400 and "active" in body["error"]


async def test_the_one_job_route_says_an_arrays_id_names_an_array(
        api: Any, q: jobmagics.Queue) -> None:
    array = sleepers(q, 2)
    status, body = await api("GET", f"jobs/{array.id}")
    assert status == 404 and "is an array" in body["error"]
    status, body = await api("GET", f"jobs/{array.id}_1")
    assert status == 200 and body["job"]["array_index"] == 1


async def test_the_action_routes_cancel_hold_release_and_retry_a_whole_array(
        api: Any, q: jobmagics.Queue) -> None:
    array = sleepers(q, 3, parallel=1)
    status, body = await api("POST", f"jobs/{array.id}/hold")
    assert status == 200, body
    assert body["array"]["counts"]["waiting"] == 3
    assert all(e.record.held for e in array.elements)
    status, body = await api("POST", f"jobs/{array.id}/release")
    assert status == 200 and body["array"]["counts"]["pending"] == 1
    status, body = await api("POST", f"jobs/{array.id}/cancel")
    assert status == 200 and body["array"]["state"] == "cancelled"
    assert body["array"]["counts"]["cancelled"] == 3
    assert array.refresh().counts["cancelled"] == 3
    status, body = await api("POST", f"jobs/{array.id}/retry")
    assert status == 200 and body["array"]["state"] in ("pending", "waiting")
    assert array.refresh().counts["cancelled"] == 0


async def test_an_array_with_nothing_to_move_is_409_naming_it(api: Any, q: jobmagics.Queue) -> None:
    array = sleepers(q, 2)
    await api("POST", f"jobs/{array.id}/cancel")
    status, body = await api("POST", f"jobs/{array.id}/cancel")
    assert status == 409 and body["type"] == "InvalidTransition"
    assert array.id in body["error"]


async def test_the_bulk_action_route_takes_array_ids_beside_job_ids(
        api: Any, q: jobmagics.Queue) -> None:
    job = q.submit(SLEEP)
    array = sleepers(q, 2)
    status, body = await api("POST", "jobs/actions", {"action": "cancel", "ids": [array.id, job.id]})
    assert status == 200, body
    assert [j["id"] for j in body["jobs"]] == [job.id]
    assert [(a["id"], a["state"]) for a in body["arrays"]] == [(array.id, "cancelled")]
    assert job.refresh().state.value == "cancelled"


async def test_another_users_array_cannot_be_cancelled(
        api: Any, q: jobmagics.Queue, server_queue: Path, other_user: str) -> None:
    code = ("import sys, jobmagics; q = jobmagics.Queue(sys.argv[1]);"
            " print(q.submit_array(['sleep', '60'], items=range(2)).id)")
    argv = as_account(other_user, "-c", code, str(server_queue))
    result = await asyncio.get_running_loop().run_in_executor(None, lambda: subprocess.run(
        argv, capture_output=True, text=True, cwd="/", timeout=60, check=False))
    assert result.returncode == 0, result.stderr
    theirs = result.stdout.strip()
    _, listing = await api("GET", "arrays")
    (row,) = listing["arrays"]
    assert row["id"] == theirs and row["user"] == other_user and row["can_act"] is False
    status, body = await api("POST", f"jobs/{theirs}/cancel")
    assert status == 403 and body["type"] == "PermissionDenied"
    assert q.array(theirs).counts["pending"] == 2


async def test_the_long_poll_answers_when_an_array_moves(
        api: Any, q: jobmagics.Queue, server_queue: Path) -> None:
    array = sleepers(q, 3)
    _, listing = await api("GET", "queue")
    waiting = asyncio.ensure_future(api("GET", "changes", params={
        "version": str(listing["version"]), "timeout": "25"}))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    other = jobmagics.Queue(server_queue)          # another connection, as another process's
    await asyncio.get_running_loop().run_in_executor(None, lambda: other.array(array.id).cancel())
    status, body = await asyncio.wait_for(waiting, 20)
    assert status == 200 and body["changed"] is True
    _, after = await api("GET", "queue")
    assert after["arrays"] == []


async def test_an_array_run_by_a_worker_ends_completed_with_its_counts(
        api: Any, q: jobmagics.Queue, server_worker: Any) -> None:
    array = q.submit_array(["true"], items=range(4), parallel=2)
    await asyncio.get_running_loop().run_in_executor(None, lambda: array.wait(60))
    status, body = await api("GET", f"arrays/{array.id}")
    assert status == 200
    row = body["array"]
    assert row["state"] == "completed" and row["progress"] == 1.0
    assert row["counts"]["completed"] == 4 and row["started_at"] <= row["finished_at"]
    assert [e["state"] for e in body["elements"]] == ["completed"] * 4


async def test_the_jobs_listing_leaves_the_elements_of_arrays_out_when_asked(
        api: Any, q: jobmagics.Queue) -> None:
    plain = q.submit(SLEEP, name="plain")
    plain.cancel()
    array = sleepers(q, 3)
    array.cancel()
    later = q.submit(SLEEP, name="later")
    later.cancel()
    status, body = await api("GET", "jobs", params={"state": "cancelled", "elements": "0"})
    assert status == 200, body
    assert [j["id"] for j in body["jobs"]] == [later.id, plain.id] and body["total"] == 2
    _, paged = await api("GET", "jobs", params={"elements": "0", "limit": "1", "offset": "1"})
    assert [j["id"] for j in paged["jobs"]] == [plain.id] and paged["total"] == 2


async def test_the_jobs_listing_still_lists_the_elements_by_default(
        api: Any, q: jobmagics.Queue) -> None:
    plain = q.submit(SLEEP)
    array = sleepers(q, 3)
    array.cancel()
    for params in ({}, {"elements": "1"}):
        status, body = await api("GET", "jobs", params=params)
        assert status == 200, body
        assert [j["id"] for j in body["jobs"]] == [
            f"{array.id}_2", f"{array.id}_1", f"{array.id}_0", plain.id]
        assert body["total"] == 4


async def test_a_malformed_elements_flag_is_400(api: Any, q: jobmagics.Queue) -> None:
    status, body = await api("GET", "jobs", params={"elements": "some"})
    assert status == 400 and "elements" in body["error"]


async def test_an_arrays_row_alone_is_a_page_of_no_elements(api: Any, q: jobmagics.Queue) -> None:
    array = sleepers(q, 3, name="row-only")
    array.element(2).cancel()
    status, body = await api("GET", f"arrays/{array.id}", params={"limit": "0"})
    assert status == 200, body
    assert body["elements"] == [] and (body["total"], body["more"]) == (3, 3)
    assert body["array"]["name"] == "row-only" and body["array"]["counts"]["cancelled"] == 1
