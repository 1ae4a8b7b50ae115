"""POST /jobmagics/api/jobs/<id>/move and PATCH /jobmagics/api/jobs/<id>/settings: reorder
and edit a job that has not started, as the other actions do (``{"job": ...}``; the one error
mapping: 400 bad body or value, 403 not yours, 404 no such job, 409 started or ended)."""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

import jobmagics


def order(q: jobmagics.Queue) -> list[str]:
    return [j.id for j in q.queue()]


def table_rows(q: jobmagics.Queue) -> list[Any]:
    with sqlite3.connect(q.layout.db) as conn:
        return conn.execute("SELECT * FROM jobs ORDER BY seq").fetchall() + \
            conn.execute("SELECT * FROM events ORDER BY id").fetchall()


async def test_move_to_the_top_before_and_after(api: Any, q: jobmagics.Queue) -> None:
    a, b, c = (q.submit(["sleep", "60"]).id for _ in range(3))
    status, body = await api("POST", f"jobs/{c}/move", {"top": True})
    assert status == 200, body
    assert body["job"]["id"] == c and order(q) == [c, a, b]
    status, body = await api("POST", f"jobs/{c}/move", {"after": b})
    assert status == 200 and order(q) == [a, b, c]
    status, body = await api("POST", f"jobs/{a}/move", {"bottom": True})
    assert status == 200 and order(q) == [b, c, a]
    status, body = await api("POST", f"jobs/{a}/move", {"before": b})
    assert status == 200 and order(q) == [a, b, c]
    assert q.events(a)[-1]["detail"] == f"{q.user} moved it before {b}"


async def test_patch_settings_changes_them_and_records_the_change(api: Any,
                                                                  q: jobmagics.Queue) -> None:
    job = q.submit(["sleep", "60"], hold=True)
    status, body = await api("PATCH", f"jobs/{job.id}/settings",
                             {"priority": 5, "timeout": 600, "memory": "1G", "name": "fit"})
    assert status == 200, body
    assert (body["job"]["priority"], body["job"]["name"]) == (5, "fit")
    record = job.record
    assert (record.priority, record.timeout, record.memory) == (5, 600, 1 << 30)
    assert job.events()[-1]["detail"] == (f"{q.user} set name none -> fit, priority 0 -> 5,"
                                          " memory none -> 1G, timeout none -> 600")


async def test_the_job_route_itself_still_answers(api: Any, q: jobmagics.Queue) -> None:
    job = q.submit(["sleep", "60"])
    status, body = await api("GET", f"jobs/{job.id}")
    assert status == 200 and body["job"]["id"] == job.id
    status, body = await api("POST", f"jobs/{job.id}/hold")
    assert status == 200 and job.record.held


@pytest.mark.parametrize("method, path, body, status, says", [
    ("POST", "move", {}, 400, "a move body is one of"),
    ("POST", "move", {"top": True, "bottom": True}, 400, "a move body is one of"),
    ("POST", "move", {"top": 1}, 400, "top must be true"),
    ("POST", "move", {"before": 3}, 400, "before must be a job id"),
    ("POST", "move", {"before": "SELF"}, 400, "before itself"),
    ("POST", "move", {"after": "OTHER"}, 400, "they are not in the same line"),
    ("POST", "move", {"after": "JOB-20200101-00001"}, 404, "JOB-20200101-00001"),
    ("PATCH", "settings", {}, 400, "nothing to change"),
    ("PATCH", "settings", {"cwd": "/"}, 400, "'cwd' cannot be changed"),
    ("PATCH", "settings", {"priority": "high"}, 400, "priority must be a whole number"),
    ("PATCH", "settings", {"timeout": -1}, 400, "timeout must be a positive number"),
    ("PATCH", "settings", {"config": [1]}, 400, "config must be a JSON object"),
    ("PATCH", "settings", {"config": {"x": 1}}, 400, "only an experiment has a config"),
])
async def test_a_bad_request_changes_nothing(api: Any, q: jobmagics.Queue, method: str,
                                             path: str, body: dict[str, Any], status: int,
                                             says: str) -> None:
    job = q.submit(["sleep", "60"]).id
    other = q.submit(["sleep", "60"], resources=["hardware"]).id
    body = {k: {"SELF": job, "OTHER": other}.get(v, v) if isinstance(v, str) else v
            for k, v in body.items()}
    before = table_rows(q)
    answered, reply = await api(method, f"jobs/{job}/{path}", body)
    assert answered == status and says in reply["error"], reply
    assert table_rows(q) == before


async def test_a_started_job_is_a_conflict_and_another_users_job_is_forbidden(
        api: Any, q: jobmagics.Queue, server_queue: Path, submit_as: Any) -> None:
    done = q.submit(["sleep", "60"])
    done.cancel()
    status, body = await api("PATCH", f"jobs/{done.id}/settings", {"priority": 1})
    assert status == 409 and "is cancelled: only waiting or pending jobs" in body["error"]
    theirs = submit_as(server_queue, command=["sleep", "60"])
    before = table_rows(q)
    for method, path, request in (("POST", "move", {"top": True}),
                                  ("PATCH", "settings", {"priority": 1})):
        status, body = await api(method, f"jobs/{theirs}/{path}", request)
        assert status == 403 and body["type"] == "PermissionDenied", body
    assert table_rows(q) == before
