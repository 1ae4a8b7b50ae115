"""POST /jobmagics/api/jobs/actions: one action on several jobs, all or none. Every id is
checked (exists, permitted, a legal move) before any job changes; the answer names the
first problem's job."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import jobmagics


def states(q: jobmagics.Queue, ids: list[str]) -> list[tuple[str, bool]]:
    return [(q.get(i).state.value, q.get(i).record.held) for i in ids]


async def test_an_action_on_several_jobs_moves_them_all(api: Any, q: jobmagics.Queue) -> None:
    ids = [q.submit(["sleep", "60"]).id for _ in range(3)]
    status, body = await api("POST", "jobs/actions", {"action": "hold", "ids": ids})
    assert status == 200, body
    assert body["action"] == "hold"
    assert [(j["id"], j["state"], j["held"]) for j in body["jobs"]] == [(i, "waiting", True) for i in ids]
    assert all(j["brief"] for j in body["jobs"])
    status, body = await api("POST", "jobs/actions", {"action": "cancel", "ids": ids})
    assert status == 200
    assert [state for state, _ in states(q, ids)] == ["cancelled"] * 3


async def test_one_unknown_id_changes_nothing_and_is_named(api: Any, q: jobmagics.Queue) -> None:
    ids = [q.submit(["sleep", "60"]).id for _ in range(2)]
    missing = "JOB-20000101-00042"
    status, body = await api("POST", "jobs/actions", {"action": "cancel", "ids": [ids[0], missing, ids[1]]})
    assert status == 404 and body["type"] == "JobNotFound"
    assert missing in body["error"]
    assert states(q, ids) == [("pending", False)] * 2


async def test_one_illegal_move_changes_nothing_and_is_named(api: Any, q: jobmagics.Queue) -> None:
    good = q.submit(["sleep", "60"]).id
    done = q.submit(["sleep", "60"]).id
    q.cancel(done)
    status, body = await api("POST", "jobs/actions", {"action": "cancel", "ids": [good, done]})
    assert status == 409 and body["type"] == "InvalidTransition"
    assert done in body["error"]
    assert q.get(good).state.value == "pending"


async def test_another_users_job_among_mine_changes_nothing(
        api: Any, q: jobmagics.Queue, server_queue: Path, submit_as: Any) -> None:
    mine = q.submit(["sleep", "60"]).id
    theirs = submit_as(server_queue, command=["sleep", "60"])
    status, body = await api("POST", "jobs/actions", {"action": "hold", "ids": [mine, theirs]})
    assert status == 403 and body["type"] == "PermissionDenied"
    assert theirs in body["error"]
    assert states(q, [mine, theirs]) == [("pending", False)] * 2


@pytest.mark.parametrize("body", [
    {},
    {"action": "delete", "ids": ["JOB-20000101-00001"]},
    {"action": "cancel"},
    {"action": "cancel", "ids": []},
    {"action": "cancel", "ids": "JOB-20000101-00001"},
    {"action": "cancel", "ids": [1]},
    {"action": "cancel", "ids": ["not-a-job"]},
    {"action": "cancel", "ids": ["JOB-20000101-00001"], "force": True},
])
async def test_a_malformed_bulk_action_is_400_and_changes_nothing(
        api: Any, q: jobmagics.Queue, body: dict[str, Any]) -> None:
    job = q.submit(["sleep", "60"]).id
    status, reply = await api("POST", "jobs/actions", body)
    assert status == 400, reply
    assert reply["error"]
    assert q.get(job).state.value == "pending"
