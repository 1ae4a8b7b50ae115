"""Listings are brief and paged (a job's code, env, options and config come from the one-job
route only); the queue route lists in start order with counts; a running job whose worker
died says since when."""
from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import jobmagics

BIG_CODE = "# " + "x" * (1 << 20) + "\nprint('big')\n"      # a 1 MiB python job
BIG_FIELDS = ("code", "env", "options", "payload")


async def test_listings_carry_no_code_env_options_or_payload(api: Any, q: jobmagics.Queue) -> None:
    big = q.submit(code=BIG_CODE, name="big").id
    secret = q.submit(["sleep", "60"], env={"TOKEN": "s3cret"}).id
    function = q.submit(function=len, args=([1, 2],)).id
    stdin = q.submit(["cat"], options={"stdin_b64": "eA==" * (1 << 18)}).id
    for route in ("jobs", "queue"):
        status, body = await api("GET", route)
        assert status == 200
        assert {j["id"] for j in body["jobs"]} == {big, secret, function, stdin}
        for job in body["jobs"]:
            assert job["brief"] is True and job["summary"], job["id"]
            assert not set(BIG_FIELDS) & set(job), (route, job["id"], set(BIG_FIELDS) & set(job))
        text = json.dumps(body)
        assert len(text) < 20_000, f"{route}: a page of 4 brief jobs is {len(text)} characters"
        assert "s3cret" not in text
    _, listing = await api("GET", "jobs")
    by_id = {j["id"]: j for j in listing["jobs"]}
    assert by_id[big]["summary"] == "# " + "x" * 197 + "…"
    assert by_id[secret]["command"] == ["sleep", "60"] and by_id[secret]["summary"] == "sleep 60"


async def test_a_very_long_command_line_is_listed_by_its_summary(api: Any, q: jobmagics.Queue) -> None:
    long = q.submit(["echo", "y" * 100_000]).id
    _, body = await api("GET", "jobs")
    (job,) = body["jobs"]
    assert job["id"] == long and job["command"] is None
    assert job["summary"].startswith("echo yyy") and len(job["summary"]) <= 200
    _, details = await api("GET", f"jobs/{long}")
    assert details["job"]["command"] == ["echo", "y" * 100_000]


async def test_the_one_job_route_has_the_code_options_and_my_env(api: Any, q: jobmagics.Queue) -> None:
    big = q.submit(code=BIG_CODE, env={"TOKEN": "s3cret"}).id
    status, body = await api("GET", f"jobs/{big}")
    assert status == 200
    job = body["job"]
    assert job["code"] == BIG_CODE and job["brief"] is False
    assert job["env"] == {"TOKEN": "s3cret"}
    assert "python" in job["options"]
    assert "payload" not in job                 # a pickle is never served


async def test_another_users_env_is_not_shown(
        api: Any, server_queue: Path, submit_as: Any) -> None:
    theirs = submit_as(server_queue, command=["sleep", "60"], env={"TOKEN": "theirs"})
    status, body = await api("GET", f"jobs/{theirs}")
    assert status == 200 and body["can_act"] is False
    assert "env" not in body["job"]
    assert "theirs" not in json.dumps(body)


async def test_the_queue_route_lists_in_start_order_with_counts(api: Any, q: jobmagics.Queue) -> None:
    low = [q.submit(["sleep", "60"], name=f"low{i}").id for i in range(3)]
    high = q.submit(["sleep", "60"], name="high", priority=5).id
    held = q.submit(["sleep", "60"], name="held", hold=True).id
    status, body = await api("GET", "queue", params={"limit": "2"})
    assert status == 200
    assert [j["id"] for j in body["jobs"]] == [high, low[0]]
    assert body["counts"] == {"running": 0, "pending": 4, "waiting": 1}
    assert (body["total"], body["more"], body["limit"], body["offset"]) == (5, 3, 2, 0)
    _, rest = await api("GET", "queue", params={"limit": "10", "offset": "2"})
    assert [j["id"] for j in rest["jobs"]] == [*low[1:], held]
    assert rest["more"] == 0


async def test_the_queue_route_filters_mine(
        api: Any, q: jobmagics.Queue, server_queue: Path, submit_as: Any, other_user: str) -> None:
    mine = q.submit(["sleep", "60"]).id
    theirs = submit_as(server_queue, command=["sleep", "60"])
    _, body = await api("GET", "queue", params={"mine": "1"})
    assert [j["id"] for j in body["jobs"]] == [mine] and body["total"] == 1
    _, body = await api("GET", "queue", params={"user": other_user})
    assert [j["id"] for j in body["jobs"]] == [theirs]


async def test_the_jobs_route_pages_with_a_total(api: Any, q: jobmagics.Queue) -> None:
    q.submit_many([{"command": ["true"]} for _ in range(120)])
    _, body = await api("GET", "jobs", params={"state": "pending", "limit": "50"})
    assert len(body["jobs"]) == 50 and body["total"] == 120


async def test_a_running_job_whose_worker_died_says_since_when(
        api: Any, q: jobmagics.Queue, server_worker: Any) -> None:
    job = q.submit(["sleep", "60"])
    deadline = time.monotonic() + 30
    while job.refresh().state.value != "running" or job.record.pid is None:
        assert time.monotonic() < deadline, "the job did not start"
        await asyncio.sleep(0.05)
    _, body = await api("GET", f"jobs/{job.id}")
    assert body["job"]["worker_lost_at"] is None
    server_worker.kill()
    server_worker.wait()
    try:
        for route in (f"jobs/{job.id}", "jobs", "queue"):
            _, body = await api("GET", route)
            listed = body["job"] if "job" in body else body["jobs"][0]
            assert listed["state"] == "running"
            assert isinstance(listed["worker_lost_at"], float), (route, listed)
            assert listed["worker_lost_at"] <= time.time()
    finally:       # the next worker recovers it: fails it ("worker lost"), ends its processes
        recovering = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kernel_worker", "--queue", str(q.path), "--drain", "--no-kernel",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await asyncio.wait_for(recovering.wait(), 60)
    assert job.refresh().state.value == "failed" and "worker lost" in (job.record.error or "")


async def test_a_long_poll_answers_when_a_worker_dies(api: Any, server_worker: Any) -> None:
    """A death commits nothing, yet the sidebar must look again (its running jobs are lost)."""
    server_worker.send_signal(signal.SIGSTOP)   # alive, but no heartbeat commits any more
    try:
        _, listing = await api("GET", "jobs")
        waiting = asyncio.ensure_future(api("GET", "changes", params={
            "version": str(listing["version"]), "timeout": "25"}))
        await asyncio.sleep(0.3)
        assert not waiting.done()
    finally:
        server_worker.kill()
        server_worker.wait()
    status, body = await asyncio.wait_for(waiting, 20)
    assert status == 200
    assert body == {"version": listing["version"], "changed": True, "workers_changed": True,
                    "topics": {"ended": 0, "schedules": 0}}
