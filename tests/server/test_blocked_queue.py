"""The Jupyter server never freezes on the queue: while another process holds the queue's
write lock, Jupyter itself answers, reads answer, and a jobmagics write answers 503 "busy"
after a bounded wait. The lock holder is a real second process that lets go only when the
test closes its stdin, so "before the lock is released" is a fact, not a timing."""
from __future__ import annotations

import asyncio
from typing import Any

import jobmagics


async def wait_for_a_queue_call(app: Any) -> None:
    """Until a request is inside a queue call (in its worker thread). The app keeps a count of
    such calls, not an event to await, so the test polls it."""
    while app.calls.in_flight == 0:  # noqa: ASYNC110  (a counter, not an event: see above)
        await asyncio.sleep(0.01)


async def test_jupyter_answers_while_a_jobmagics_write_waits_for_the_lock(
        api: Any, jp_fetch: Any, jobmagics_app: Any, write_lock: Any, q: jobmagics.Queue) -> None:
    jobmagics_app.busy_timeout = 60.0          # this write waits as long as the lock is held
    holder = write_lock()
    submit = asyncio.ensure_future(api("POST", "jobs", {"command": ["true"]}))
    await wait_for_a_queue_call(jobmagics_app)

    status = await jp_fetch("api", "status")
    assert status.code == 200
    assert not submit.done(), "the write cannot finish before the lock is released"
    assert holder.poll() is None

    holder.stdin.close()
    code, body = await submit
    assert code == 201, body
    assert q.count() == 1


async def test_a_write_under_a_held_lock_is_503_busy_before_the_lock_is_released(
        api: Any, jobmagics_app: Any, write_lock: Any, q: jobmagics.Queue) -> None:
    jobmagics_app.busy_timeout = 0.2
    job = q.submit(["sleep", "60"])
    holder = write_lock()
    for method, route, body in (("POST", "jobs", {"command": ["true"]}),
                                ("POST", f"jobs/{job.id}/cancel", {})):
        status, reply = await api(method, route, body)
        assert holder.poll() is None, "the lock holder lets go only when we close its stdin"
        assert status == 503, (route, reply)
        assert reply["type"] == "QueueBusy"
        assert "the queue is busy, try again" in reply["error"]
        assert "for over 0.2 s" in reply["error"]        # the server's bounded wait, not 60 s
    holder.stdin.close()
    holder.wait(10)
    assert q.count() == 1 and q.get(job.id).state.value == "pending"


async def test_reads_answer_under_a_held_write_lock(
        api: Any, jobmagics_app: Any, write_lock: Any, q: jobmagics.Queue) -> None:
    jobmagics_app.busy_timeout = 60.0          # a read that waited on the lock would hang here
    job = q.submit(["sleep", "60"])
    holder = write_lock()
    for route in ("jobs", f"jobs/{job.id}", f"jobs/{job.id}/log", "stats", "whoami"):
        status, body = await api("GET", route)
        assert status == 200, (route, body)
    status, body = await api("GET", "changes", params={"version": "-5", "timeout": "0"})
    assert status == 200 and body["changed"] is True
    assert holder.poll() is None


async def test_a_request_finding_every_queue_thread_taken_waits_a_bounded_time_then_503(
        api: Any, jp_fetch: Any, jobmagics_app: Any, write_lock: Any, q: jobmagics.Queue) -> None:
    jobmagics_app.busy_timeout = 60.0
    jobmagics_app.queue_threads = 1
    jobmagics_app.queue_wait = 0.2
    holder = write_lock()
    first = asyncio.ensure_future(api("POST", "jobs", {"command": ["true"]}))
    await wait_for_a_queue_call(jobmagics_app)

    status, body = await api("POST", "jobs", {"command": ["false"]})
    assert status == 503 and body["type"] == "QueueBusy", body
    assert "the queue is busy, try again" in body["error"]
    assert not first.done()
    assert (await jp_fetch("api", "status")).code == 200    # Jupyter's own threads are free

    holder.stdin.close()
    code, _ = await first
    assert code == 201
    assert [j.record.command for j in q.jobs()] == [["true"]]
