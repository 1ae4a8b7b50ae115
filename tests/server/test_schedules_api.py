"""GET /jobmagics/api/schedules and POST /jobmagics/api/schedules/<name>/(pause|resume|run-now):
the schedules with their next run, and the owner's or an admin's verbs on one (the one error
mapping: 403 another's schedule, 404 no such schedule)."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import jobmagics
from tests.accounts import as_account

SCHEDULE_AS = ("import sys, jobmagics; jobmagics.Queue(sys.argv[1]).schedule(sys.argv[2],"
               " every='1h', command=['true'])")


def schedule_as(user: str, queue_dir: Path, name: str) -> None:
    result = subprocess.run(as_account(user, "-c", SCHEDULE_AS, str(queue_dir), name),
                            capture_output=True, text=True, cwd="/", timeout=60, check=False)
    assert result.returncode == 0, result.stderr


async def test_get_lists_each_schedule_with_its_next_run(api: Any, q: jobmagics.Queue) -> None:
    q.schedule("fit", every="5m", command=["true"])
    q.schedule("nightly", cron="0 3 * * *", tz="Europe/Berlin", code="print(1)")
    status, body = await api("GET", "schedules")
    assert status == 200, body
    listed = {s["name"]: s for s in body["schedules"]}
    assert list(listed) == ["fit", "nightly"] and body["user"] == q.user
    assert listed["fit"]["rhythm"] == "every 5m" and 290 < listed["fit"]["next_in"] <= 300
    assert listed["nightly"]["rhythm"] == "cron 0 3 * * * (Europe/Berlin)"
    assert listed["fit"]["may_act"] and listed["fit"]["next_at"] > time.time()


async def test_pause_resume_and_run_now_answer_the_schedule(api: Any, q: jobmagics.Queue) -> None:
    q.schedule("fit", every="1h", command=["true"])
    status, body = await api("POST", "schedules/fit/pause")
    assert status == 200 and body["schedule"]["paused"] and body["schedule"]["next_in"] is None
    assert q.get_schedule("fit").paused
    status, body = await api("POST", "schedules/fit/resume")
    assert status == 200 and not body["schedule"]["paused"]
    status, body = await api("POST", "schedules/fit/run-now")
    assert status == 200 and len(body["jobs"]) == 1
    assert body["schedule"]["last_job"] == body["jobs"][0]
    assert q.get(body["jobs"][0]).record.schedule == "fit"


async def test_an_unknown_schedule_is_404_and_an_unknown_verb_finds_no_route(
        api: Any, q: jobmagics.Queue) -> None:
    status, body = await api("POST", "schedules/nosuch/pause")
    assert status == 404 and "nosuch" in body["error"]
    q.schedule("fit", every="1h", command=["true"])
    status, _ = await api("POST", "schedules/fit/explode")
    assert status == 404
    assert not q.get_schedule("fit").paused


async def test_another_users_schedule_is_listed_but_not_paused_by_us(
        api: Any, q: jobmagics.Queue, server_queue: Path, other_user: str) -> None:
    schedule_as(other_user, server_queue, "alices")
    q.store.set_setting("admins", [])              # the server's user is no admin here
    status, body = await api("GET", "schedules")
    (listed,) = body["schedules"]
    assert listed["user"] == other_user and listed["may_act"] is False
    status, body = await api("POST", "schedules/alices/pause")
    assert status == 403 and "belongs to" in body["error"]
    assert not q.get_schedule("alices").paused
