"""Every route of the jobmagics server extension (`/jobmagics/api/`), through a real
jupyter_server (pytest_jupyter's ``jp_fetch``) on a real queue."""
from __future__ import annotations

import asyncio
import json
import os
import pwd
import time
from pathlib import Path
from typing import Any

import pytest

import jobmagics

ME = pwd.getpwuid(os.getuid()).pw_name
ROUTES = [
    ("GET", "jobs"),
    ("POST", "jobs"),
    ("POST", "jobs/actions"),
    ("GET", "queue"),
    ("GET", "jobs/JOB-20261121-00001"),
    ("GET", "jobs/JOB-20261121-00001/log"),
    ("POST", "jobs/JOB-20261121-00001/cancel"),
    ("POST", "jobs/JOB-20261121-00001/retry"),
    ("POST", "jobs/JOB-20261121-00001/hold"),
    ("POST", "jobs/JOB-20261121-00001/release"),
    ("GET", "arrays"),
    ("GET", "arrays/ARRAY"),
    ("POST", "jobs/ARRAY/cancel"),
    ("POST", "jobs/ARRAY/retry"),
    ("POST", "jobs/ARRAY/hold"),
    ("POST", "jobs/ARRAY/release"),
    ("GET", "stats"),
    ("GET", "whoami"),
    ("GET", "changes"),
    ("GET", "no/such/route"),
]


def sleeper(q: jobmagics.Queue, **options: Any) -> jobmagics.Job:
    """A job that stays pending: no worker runs in these tests unless asked for."""
    return q.submit(["sleep", "60"], **options)


# ---- authentication -----------------------------------------------------------------------

@pytest.mark.parametrize("method,route", ROUTES)
async def test_every_route_refuses_an_unauthenticated_request(
        method: str, route: str, http_server_client: Any, jp_base_url: str,
        q: jobmagics.Queue) -> None:
    job = sleeper(q)
    array = q.submit_array(["sleep", "60"], items=range(2))
    route = route.replace("JOB-20261121-00001", job.id).replace("ARRAY", array.id)
    url = f"{jp_base_url}jobmagics/api/{route}"
    # No token, no cookie: an anonymous client.
    response = await http_server_client.fetch(
        url, method=method, body="{}" if method == "POST" else None, raise_error=False,
        follow_redirects=False)
    assert response.code == 403, (url, response.code, response.body)
    assert job.id.encode() not in response.body and array.id.encode() not in response.body
    assert q.get(job.id).state.value == "pending"
    assert array.refresh().counts["pending"] == 2


async def test_a_route_answers_an_authenticated_request(api: Any) -> None:
    status, _ = await api("GET", "whoami")
    assert status == 200


async def test_a_cookie_authenticated_post_needs_the_xsrf_token(
        jp_serverapp: Any, http_server_client: Any, jp_base_url: str, q: jobmagics.Queue) -> None:
    base = jp_base_url
    client = http_server_client
    token = jp_serverapp.identity_provider.token
    login = await client.fetch(f"{base}login?next={jp_base_url}", method="POST",
                               body=f"password={token}&_xsrf=testxsrf", follow_redirects=False, raise_error=False,
                               headers={"Cookie": "_xsrf=testxsrf"})
    cookies = {}
    for header in login.headers.get_list("Set-Cookie"):
        name, _, rest = header.partition("=")
        cookies[name] = rest.split(";")[0]
    login_cookie = "; ".join(f"{k}={v}" for k, v in cookies.items() if k != "_xsrf")
    assert login_cookie, f"login did not set a cookie: {login.code} {login.headers}"
    url = f"{base}jobmagics/api/jobs"
    body = json.dumps({"command": ["true"]})

    refused = await client.fetch(url, method="POST", body=body, raise_error=False,
                                 headers={"Cookie": login_cookie})
    assert refused.code == 403
    assert q.count() == 0

    accepted = await client.fetch(url, method="POST", body=body, raise_error=False,
                                  headers={"Cookie": f"{login_cookie}; _xsrf=abc",
                                           "X-XSRFToken": "abc"})
    assert accepted.code == 201, accepted.body
    assert q.count() == 1


# ---- whoami, stats ------------------------------------------------------------------------

async def test_whoami_names_the_servers_unix_account_and_the_queue(
        api: Any, server_queue: Path) -> None:
    status, body = await api("GET", "whoami")
    assert status == 200
    assert body == {"user": ME, "admin": False, "queue": str(server_queue)}


async def test_stats_count_jobs_by_state(api: Any, q: jobmagics.Queue) -> None:
    sleeper(q)
    sleeper(q)
    q.cancel(sleeper(q).id)
    status, body = await api("GET", "stats")
    assert status == 200
    assert body["states"]["pending"] == 2
    assert body["states"]["cancelled"] == 1


# ---- listing ------------------------------------------------------------------------------

async def test_jobs_are_listed_newest_first_with_total_and_version(
        api: Any, q: jobmagics.Queue) -> None:
    ids = [sleeper(q, name=f"n{i}").id for i in range(3)]
    status, body = await api("GET", "jobs")
    assert status == 200
    assert [j["id"] for j in body["jobs"]] == ids[::-1]
    assert body["total"] == 3
    assert body["user"] == ME
    assert isinstance(body["version"], int)
    job = body["jobs"][0]
    assert job["state"] == "pending" and job["user"] == ME and job["command"] == ["sleep", "60"]
    assert "env" not in job


async def test_jobs_are_filtered_by_state(api: Any, q: jobmagics.Queue) -> None:
    pending = sleeper(q).id
    cancelled = sleeper(q).id
    q.cancel(cancelled)
    held = sleeper(q, hold=True).id
    _, body = await api("GET", "jobs", params={"state": "cancelled"})
    assert [j["id"] for j in body["jobs"]] == [cancelled]
    _, body = await api("GET", "jobs", params={"state": "pending,waiting"})
    assert {j["id"] for j in body["jobs"]} == {pending, held}
    assert body["total"] == 2


async def test_jobs_are_filtered_by_user_and_mine(
        api: Any, q: jobmagics.Queue, server_queue: Path, submit_as: Any, other_user: str) -> None:
    mine = sleeper(q).id
    theirs = submit_as(server_queue, command=["sleep", "60"])
    _, body = await api("GET", "jobs")
    assert {j["id"] for j in body["jobs"]} == {mine, theirs}
    _, body = await api("GET", "jobs", params={"user": other_user})
    assert [j["id"] for j in body["jobs"]] == [theirs]
    _, body = await api("GET", "jobs", params={"mine": "1"})
    assert [j["id"] for j in body["jobs"]] == [mine]


async def test_jobs_are_filtered_by_name_and_submission_time(api: Any, q: jobmagics.Queue) -> None:
    old = sleeper(q, name="fit").id
    await asyncio.sleep(0.05)
    cut = time.time()
    await asyncio.sleep(0.05)
    new = sleeper(q, name="fit").id
    sleeper(q, name="other")
    _, body = await api("GET", "jobs", params={"name": "fit"})
    assert [j["id"] for j in body["jobs"]] == [new, old]
    _, body = await api("GET", "jobs", params={"name": "fit", "since": str(cut)})
    assert [j["id"] for j in body["jobs"]] == [new]
    assert body["total"] == 1


async def test_jobs_are_paginated_with_limit_and_offset(api: Any, q: jobmagics.Queue) -> None:
    ids = [sleeper(q).id for _ in range(7)][::-1]
    _, first = await api("GET", "jobs", params={"limit": "3"})
    _, second = await api("GET", "jobs", params={"limit": "3", "offset": "3"})
    _, last = await api("GET", "jobs", params={"limit": "3", "offset": "6"})
    _, beyond = await api("GET", "jobs", params={"limit": "3", "offset": "30"})
    assert [j["id"] for j in first["jobs"]] == ids[0:3]
    assert [j["id"] for j in second["jobs"]] == ids[3:6]
    assert [j["id"] for j in last["jobs"]] == ids[6:]
    assert beyond["jobs"] == []
    assert first["total"] == second["total"] == 7
    assert (second["limit"], second["offset"]) == (3, 3)


@pytest.mark.parametrize("params", [
    {"state": "finished"},
    {"state": "pending,bogus"},
    {"limit": "ten"},
    {"limit": "-1"},
    {"limit": "100000"},
    {"offset": "-3"},
    {"since": "yesterday"},
    {"since": "nan"},
])
async def test_bad_list_parameters_are_refused_with_400(api: Any, params: dict[str, str]) -> None:
    status, body = await api("GET", "jobs", params=params)
    assert status == 400
    assert body["type"] == "BadRequest" and body["error"]


# ---- one job ------------------------------------------------------------------------------

async def test_one_job_comes_with_its_events_and_whether_i_may_act(
        api: Any, q: jobmagics.Queue) -> None:
    job = sleeper(q, name="one")
    q.hold(job.id)
    status, body = await api("GET", f"jobs/{job.id}")
    assert status == 200
    assert body["job"]["id"] == job.id and body["job"]["name"] == "one"
    assert body["job"]["held"] is True
    assert body["events"][0]["state"] == "pending"
    assert all({"at", "state", "detail"} <= set(e) for e in body["events"])
    assert body["can_act"] is True


async def test_another_users_job_says_i_may_not_act(
        api: Any, server_queue: Path, submit_as: Any) -> None:
    theirs = submit_as(server_queue, command=["sleep", "60"])
    status, body = await api("GET", f"jobs/{theirs}")
    assert status == 200
    assert body["can_act"] is False


async def test_an_unknown_job_is_404_with_a_json_message(api: Any) -> None:
    for route in ("jobs/JOB-20000101-00042", "jobs/JOB-20000101-00042/log",
                  "jobs/JOB-20000101-00042/cancel"):
        status, body = await api("POST" if route.endswith("cancel") else "GET", route)
        assert status == 404, route
        assert body["type"] == "JobNotFound"
        assert "JOB-20000101-00042" in body["error"]


async def test_a_malformed_job_id_is_400(api: Any) -> None:
    status, body = await api("GET", "jobs/not-a-job")
    assert status == 400
    assert body["type"] == "InvalidJob"


# ---- submit -------------------------------------------------------------------------------

async def test_a_command_job_is_submitted_with_its_options(
        api: Any, q: jobmagics.Queue, jp_root_dir: Path) -> None:
    status, body = await api("POST", "jobs", {
        "command": ["python", "-c", "print(1)"], "name": "fit", "priority": 5,
        "resources": ["hardware"], "cpus": 2, "memory": "1G", "timeout": 60, "retries": 2})
    assert status == 201
    job = body["job"]
    assert job["kind"] == "command" and job["state"] == "pending"
    assert (job["name"], job["priority"], job["resources"], job["cpus"]) == ("fit", 5, ["hardware"], 2)
    assert job["memory"] == 1 << 30 and job["timeout"] == 60 and job["retries"] == 2
    assert job["user"] == ME
    root = await asyncio.to_thread(Path(jp_root_dir).resolve)   # off the server's event loop
    assert job["cwd"] == str(root)
    assert q.get(job["id"]).record.command == ["python", "-c", "print(1)"]


async def test_a_python_job_is_submitted_from_code(api: Any, q: jobmagics.Queue) -> None:
    status, body = await api("POST", "jobs", {"code": "x = 1\nprint(x)", "name": "cell"})
    assert status == 201
    assert body["job"]["kind"] == "python"
    assert q.get(body["job"]["id"]).record.code == "x = 1\nprint(x)"


async def test_a_job_may_wait_for_another(api: Any, q: jobmagics.Queue) -> None:
    first = sleeper(q).id
    status, body = await api("POST", "jobs", {"command": ["true"], "after": [first]})
    assert status == 201
    assert body["job"]["after"] == [first]
    assert body["job"]["state"] == "waiting"


async def test_the_working_directory_is_relative_to_the_jupyter_root(
        api: Any, jp_root_dir: Path) -> None:
    (Path(jp_root_dir) / "project").mkdir()
    status, body = await api("POST", "jobs", {"code": "pass", "cwd": "project"})
    assert status == 201
    assert body["job"]["cwd"] == str((Path(jp_root_dir) / "project").resolve())


@pytest.mark.parametrize("raw", [
    "not json",
    "[1, 2]",
    json.dumps({}),
    json.dumps({"command": ["true"], "code": "pass"}),
    json.dumps({"command": "echo hi"}),
    json.dumps({"command": []}),
    json.dumps({"command": ["echo", 3]}),
    json.dumps({"code": 42}),
    json.dumps({"code": "def broken(:"}),
    json.dumps({"command": ["true"], "priority": "high"}),
    json.dumps({"command": ["true"], "cpus": True}),
    json.dumps({"command": ["true"], "memory": "lots"}),
    json.dumps({"command": ["true"], "timeout": -1}),
    json.dumps({"command": ["true"], "after": ["JOB-20000101-00001"]}),
    json.dumps({"command": ["true"], "env": {"A": "1"}, "shell": True}),
    json.dumps({"command": ["true"], "cwd": "../.."}),
    json.dumps({"command": ["true"], "cwd": "no/such/dir"}),
])
async def test_a_bad_submission_is_refused_with_400_and_changes_nothing(
        api: Any, q: jobmagics.Queue, raw: str) -> None:
    status, body = await api("POST", "jobs", raw_body=raw)
    assert status in (400, 404), body
    if raw.endswith('["JOB-20000101-00001"]}'):
        assert status in (400, 404)
    else:
        assert status == 400
    assert body["error"] and body["type"]
    assert q.count() == 0


# ---- actions ------------------------------------------------------------------------------

async def test_hold_release_cancel_and_retry_move_my_job(api: Any, q: jobmagics.Queue) -> None:
    job = sleeper(q)
    status, body = await api("POST", f"jobs/{job.id}/hold")
    assert status == 200 and body["job"]["state"] == "waiting" and body["job"]["held"] is True
    status, body = await api("POST", f"jobs/{job.id}/release")
    assert status == 200 and body["job"]["state"] == "pending" and body["job"]["held"] is False
    status, body = await api("POST", f"jobs/{job.id}/cancel")
    assert status == 200 and body["job"]["state"] == "cancelled"
    status, body = await api("POST", f"jobs/{job.id}/retry")
    assert status == 200 and body["job"]["state"] in ("pending", "waiting")
    assert q.get(body["job"]["id"]).state.value in ("pending", "waiting")


async def test_cancelling_a_finished_job_is_a_conflict(api: Any, q: jobmagics.Queue) -> None:
    job = sleeper(q)
    q.cancel(job.id)
    status, body = await api("POST", f"jobs/{job.id}/cancel")
    assert status == 409
    assert body["type"] == "InvalidTransition" and body["error"]
    status, body = await api("POST", f"jobs/{job.id}/hold")
    assert status == 409


async def test_retrying_a_pending_job_is_a_conflict(api: Any, q: jobmagics.Queue) -> None:
    job = sleeper(q)
    status, _ = await api("POST", f"jobs/{job.id}/retry")
    assert status == 409
    assert q.get(job.id).state.value == "pending"


async def test_an_unknown_action_is_not_a_route(api: Any, q: jobmagics.Queue) -> None:
    job = sleeper(q)
    status, body = await api("POST", f"jobs/{job.id}/delete")
    assert status == 404
    assert body["type"] == "HTTPError" and "no route" in body["error"]
    assert q.get(job.id).state.value == "pending"


@pytest.mark.parametrize("action", ["cancel", "hold", "release", "retry"])
async def test_acting_on_another_users_job_is_forbidden(
        api: Any, q: jobmagics.Queue, server_queue: Path, submit_as: Any, action: str) -> None:
    theirs = submit_as(server_queue, command=["sleep", "60"], hold=action == "release")
    if action == "retry":
        # A finished job of theirs (cancelled by its owner) so only the permission can refuse.
        theirs = submit_as(server_queue, command=["sleep", "60"])
        jobs_before = q.count()
        assert jobs_before == 2
    before = q.get(theirs).record
    status, body = await api("POST", f"jobs/{theirs}/{action}")
    assert status == 403, body
    assert body["type"] == "PermissionDenied" and body["error"]
    after = q.get(theirs).record
    assert (after.state, after.held, after.cancel_requested) == (before.state, before.held,
                                                                  before.cancel_requested)


async def test_a_queue_admin_may_cancel_another_users_job(
        api: Any, q: jobmagics.Queue, server_queue: Path, submit_as: Any) -> None:
    theirs = submit_as(server_queue, command=["sleep", "60"])
    q.add_admin(ME)
    _, who = await api("GET", "whoami")
    assert who["admin"] is True
    _, details = await api("GET", f"jobs/{theirs}")
    assert details["can_act"] is True
    status, body = await api("POST", f"jobs/{theirs}/cancel")
    assert status == 200
    assert body["job"]["state"] == "cancelled"


# ---- logs ---------------------------------------------------------------------------------

def write_log(job: jobmagics.Job, data: bytes) -> None:
    job.log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(job.log_path, "ab") as handle:
        handle.write(data)


async def test_the_log_is_read_from_a_byte_offset(api: Any, q: jobmagics.Queue) -> None:
    job = sleeper(q)
    write_log(job, b"line 1\nline 2\n")
    status, body = await api("GET", f"jobs/{job.id}/log")
    assert status == 200
    assert body == {"text": "line 1\nline 2\n", "offset": 14, "size": 14, "done": False}
    _, body = await api("GET", f"jobs/{job.id}/log", params={"offset": "14"})
    assert body["text"] == "" and body["offset"] == 14
    write_log(job, b"line 3\n")
    _, body = await api("GET", f"jobs/{job.id}/log", params={"offset": "14"})
    assert body == {"text": "line 3\n", "offset": 21, "size": 21, "done": False}
    _, body = await api("GET", f"jobs/{job.id}/log", params={"offset": "7"})
    assert body["text"] == "line 2\nline 3\n"


async def test_a_negative_log_offset_reads_the_tail(api: Any, q: jobmagics.Queue) -> None:
    job = sleeper(q)
    write_log(job, b"0123456789")
    _, body = await api("GET", f"jobs/{job.id}/log", params={"offset": "-4"})
    assert (body["text"], body["offset"], body["size"]) == ("6789", 10, 10)
    _, body = await api("GET", f"jobs/{job.id}/log", params={"offset": "-400"})
    assert body["text"] == "0123456789"


async def test_an_offset_past_the_end_reads_nothing(api: Any, q: jobmagics.Queue) -> None:
    job = sleeper(q)
    write_log(job, b"abc")
    _, body = await api("GET", f"jobs/{job.id}/log", params={"offset": "99"})
    assert (body["text"], body["offset"], body["size"]) == ("", 3, 3)


async def test_a_job_without_output_has_an_empty_log(api: Any, q: jobmagics.Queue) -> None:
    job = sleeper(q)
    status, body = await api("GET", f"jobs/{job.id}/log")
    assert status == 200
    assert body == {"text": "", "offset": 0, "size": 0, "done": False}


async def test_a_log_chunk_is_at_most_one_mebibyte(api: Any, q: jobmagics.Queue) -> None:
    job = sleeper(q)
    write_log(job, b"x" * ((1 << 20) + 100))
    _, body = await api("GET", f"jobs/{job.id}/log")
    assert len(body["text"]) == 1 << 20 and body["offset"] == 1 << 20
    assert body["size"] == (1 << 20) + 100
    _, body = await api("GET", f"jobs/{job.id}/log", params={"offset": str(body["offset"])})
    assert len(body["text"]) == 100


async def test_a_log_chunk_never_splits_a_utf8_character(api: Any, q: jobmagics.Queue) -> None:
    job = sleeper(q)
    write_log(job, "µs\n".encode() + "€".encode()[:2])     # a writer caught mid-character
    _, body = await api("GET", f"jobs/{job.id}/log")
    assert body["text"] == "µs\n" and body["offset"] == 4
    write_log(job, "€".encode()[2:] + b"!\n")
    _, body = await api("GET", f"jobs/{job.id}/log", params={"offset": str(body["offset"])})
    assert body["text"] == "€!\n"


async def test_a_bad_log_offset_is_400(api: Any, q: jobmagics.Queue) -> None:
    job = sleeper(q)
    status, body = await api("GET", f"jobs/{job.id}/log", params={"offset": "start"})
    assert status == 400 and body["type"] == "BadRequest"


async def test_the_log_of_a_finished_job_is_done(api: Any, q: jobmagics.Queue) -> None:
    job = sleeper(q)
    write_log(job, b"bye\n")
    q.cancel(job.id)
    _, body = await api("GET", f"jobs/{job.id}/log")
    assert body["done"] is True and body["text"] == "bye\n"


async def test_a_job_run_by_a_real_worker_completes_with_its_log(
        api: Any, server_worker: Any) -> None:
    status, body = await api("POST", "jobs", {"command": ["sh", "-c", "echo hello; echo world"]})
    assert status == 201
    job_id = body["job"]["id"]
    deadline = time.monotonic() + 30
    while True:
        _, details = await api("GET", f"jobs/{job_id}")
        if details["job"]["state"] in ("completed", "failed", "cancelled", "timeout"):
            break
        assert time.monotonic() < deadline, f"job still {details['job']['state']}"
        await asyncio.sleep(0.05)
    assert details["job"]["state"] == "completed"
    assert [e["state"] for e in details["events"]][-1] == "completed"
    _, log = await api("GET", f"jobs/{job_id}/log")
    assert log["text"] == "hello\nworld\n" and log["done"] is True


async def test_cancelling_a_running_job_stops_it(api: Any, server_worker: Any) -> None:
    _, body = await api("POST", "jobs", {"command": ["sleep", "60"]})
    job_id = body["job"]["id"]
    deadline = time.monotonic() + 30
    while (await api("GET", f"jobs/{job_id}"))[1]["job"]["state"] != "running":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    status, body = await api("POST", f"jobs/{job_id}/cancel")
    assert status == 200
    while (await api("GET", f"jobs/{job_id}"))[1]["job"]["state"] != "cancelled":
        assert time.monotonic() < deadline, "the running job was not cancelled"
        await asyncio.sleep(0.05)


# ---- changes (long poll) -----------------------------------------------------------------

async def test_changes_answers_at_once_when_the_version_differs(api: Any) -> None:
    _, listing = await api("GET", "jobs")
    status, body = await api("GET", "changes", params={"version": str(listing["version"] - 1),
                                                       "timeout": "20"})
    assert status == 200
    assert body["version"] == listing["version"] and body["changed"] is True


async def test_changes_answers_when_another_process_commits(
        api: Any, server_queue: Path, submit_as: Any) -> None:
    _, listing = await api("GET", "jobs")
    version = listing["version"]
    waiting = asyncio.ensure_future(api("GET", "changes", params={"version": str(version),
                                                                  "timeout": "25"}))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await asyncio.get_running_loop().run_in_executor(
        None, lambda: submit_as(server_queue, command=["true"]))
    status, body = await asyncio.wait_for(waiting, 20)
    assert status == 200
    assert body["changed"] is True and body["version"] != version


async def test_changes_answers_unchanged_after_the_timeout(api: Any) -> None:
    _, listing = await api("GET", "jobs")
    status, body = await api("GET", "changes", params={"version": str(listing["version"]),
                                                       "timeout": "0.3"})
    assert status == 200
    assert body == {"version": listing["version"], "changed": False, "workers_changed": False,
                    "topics": {"ended": 0, "schedules": 0}}


async def test_the_server_keeps_answering_while_a_long_poll_waits(api: Any) -> None:
    _, listing = await api("GET", "jobs")
    waiting = asyncio.ensure_future(api("GET", "changes", params={"version": str(listing["version"]),
                                                                  "timeout": "3"}))
    status, _ = await api("GET", "whoami")
    assert status == 200
    assert not waiting.done()
    await waiting


async def test_a_bad_changes_version_is_400(api: Any) -> None:
    status, _ = await api("GET", "changes", params={"version": "latest"})
    assert status == 400


async def test_background_reads_do_not_count_as_activity_but_actions_do(
        api: Any, jp_serverapp: Any, q: jobmagics.Queue) -> None:
    settings = jp_serverapp.web_app.settings
    settings.pop("api_last_activity", None)
    for route in ("jobs", "stats", "whoami"):
        await api("GET", route)
    await api("GET", "changes", params={"version": "-5", "timeout": "0"})
    assert "api_last_activity" not in settings
    await api("POST", "jobs", {"command": ["true"]})
    assert "api_last_activity" in settings


# ---- unreadable queue ---------------------------------------------------------------------

async def test_an_unreadable_queue_is_503_with_a_message(
        api: Any, jp_serverapp: Any, tmp_path: Path) -> None:
    not_a_folder = tmp_path / "queue-file"
    not_a_folder.write_text("")
    app = jp_serverapp.web_app.settings["jobmagics"]
    app.queue = str(not_a_folder)
    app._queue = None
    for route in ("jobs", "whoami", "stats"):
        status, body = await api("GET", route)
        assert status == 503, route
        assert body["type"] == "QueueError" and str(not_a_folder) in body["error"]


async def test_the_queue_comes_from_jobmagics_queue_when_not_configured(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from jobmagics.server import JobmagicsApp
    monkeypatch.setenv("JOBMAGICS_QUEUE", str(tmp_path / "env-queue"))
    assert JobmagicsApp().queue == str(tmp_path / "env-queue")
