"""Reordering and editing jobs that have not started (``Queue.move``/``Queue.update``), with real
workers claiming in the new order and with the new settings."""
from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from typing import Any

import pytest

import jobmagics
from jobmagics.errors import InvalidJob, InvalidTransition, JobNotFound
from tests.conftest import WorkerProcess, wait_for

SLEEP = [sys.executable, "-c", "import time; time.sleep(30)"]


def quick(q: jobmagics.Queue, name: str, **options: Any) -> jobmagics.Job:
    return q.submit(["true"], name=name, **options)


def pending_order(q: jobmagics.Queue) -> list[str]:
    return [j.last_read.name or j.id for j in q.queue(limit=None) if j.last_read.state.value
            in ("pending", "waiting")]


def start_order(q: jobmagics.Queue, jobs: list[jobmagics.Job]) -> list[str]:
    for job in jobs:
        job.wait(60)
    done = sorted(jobs, key=lambda j: j.record.started_at or 0.0)
    return [j.record.name or j.id for j in done]


def rows(q: jobmagics.Queue) -> list[tuple[Any, ...]]:
    """The jobs and events tables as they are, to compare before and after a refused edit."""
    with sqlite3.connect(q.layout.db) as conn:
        return (conn.execute("SELECT * FROM jobs ORDER BY seq").fetchall()
                + conn.execute("SELECT * FROM events ORDER BY id").fetchall())


def test_moving_the_last_pending_job_to_the_top_makes_a_real_worker_start_it_first(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    queue.pause()
    jobs = [quick(queue, name) for name in ("a", "b", "c")]
    start_worker("--slots", "1")
    queue.move(jobs[2].id, top=True)
    assert pending_order(queue) == ["c", "a", "b"]
    queue.resume()
    assert start_order(queue, jobs) == ["c", "a", "b"]


def test_before_after_and_bottom_place_a_job_where_said_and_the_worker_follows(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    queue.pause()
    jobs = {name: quick(queue, name) for name in "abcde"}
    queue.move(jobs["a"].id, after=jobs["c"].id)           # b c a d e
    jobs["e"].move(before=jobs["b"])                       # e b c a d
    queue.move(jobs["b"].id, bottom=True)                  # e c a d b
    assert pending_order(queue) == list("ecadb")
    later = quick(queue, "later")                          # submitted after the moves: last
    assert pending_order(queue) == [*"ecadb", "later"]
    start_worker("--slots", "1")
    queue.resume()
    assert start_order(queue, [*jobs.values(), later]) == [*"ecadb", "later"]


def test_moves_stay_among_the_jobs_of_their_priority(queue: jobmagics.Queue) -> None:
    quick(queue, "urgent", priority=5)
    low = [quick(queue, name) for name in ("x", "y")]
    queue.move(low[1].id, top=True)
    assert pending_order(queue) == ["urgent", "y", "x"]    # next among equals, not above 5


def test_many_moves_into_one_gap_keep_the_line_in_order(queue: jobmagics.Queue) -> None:
    jobs = [quick(queue, name) for name in ("a", "b", "c", "d")]
    for turn in range(80):             # each halves the room left before the next submission
        queue.move(jobs[turn % 2].id, bottom=True)
        queue.move(jobs[2].id, after=jobs[3].id)
    assert pending_order(queue) == ["d", "c", "a", "b"]


def test_priority_timeout_and_resources_set_while_waiting_take_effect_at_the_claim(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    queue.pause()
    first = quick(queue, "first")
    slow = queue.submit(SLEEP, name="slow")
    hardware = quick(queue, "hardware", resources=["hardware"])
    start_worker("--slots", "1")                  # it does not serve hardware
    queue.update(slow.id, priority=5, timeout=0.5)
    queue.update(hardware.id, resources=[])
    queue.resume()
    assert slow.wait(60).state.value == "timeout"
    assert start_order(queue, [first, slow, hardware])[0] == "slow"
    assert hardware.record.state.value == "completed"


def test_every_change_is_an_event_saying_who_changed_what(queue: jobmagics.Queue) -> None:
    job = quick(queue, "fit", hold=True)
    quick(queue, "other")
    job.move(top=True)
    job.update(priority=5, timeout=600, name="fit-2")
    details = [e["detail"] for e in job.events()][1:]
    assert details == [f"{queue.user} moved it to the top",
                       f"{queue.user} set name fit -> fit-2, priority 0 -> 5, timeout none -> 600"]
    assert [e["state"] for e in job.events()][1:] == ["waiting", "waiting"]   # still held
    assert job.record.held and job.record.priority == 5 and job.record.timeout == 600


def test_a_job_that_started_or_ended_says_why_it_cannot_change(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    running = queue.submit(SLEEP, name="running")
    done = quick(queue, "done")
    start_worker("--slots", "2")
    wait_for(lambda: running.record.state.value == "running" and running.record.pid, 30)
    done.wait(30)
    before = rows(queue)
    for job, state in ((running, "running"), (done, "completed")):
        for edit in (lambda j: queue.move(j.id, top=True), lambda j: queue.update(j.id, priority=3)):
            with pytest.raises(InvalidTransition) as caught:
                edit(job)
            assert str(caught.value) == (f"{job.id} is {state}: only waiting or pending jobs can"
                                         " be moved or changed")
    assert rows(queue) == before
    running.cancel()


def test_several_jobs_change_all_or_none(queue: jobmagics.Queue) -> None:
    a, b = quick(queue, "a"), quick(queue, "b")
    a.cancel()
    before = rows(queue)
    with pytest.raises(InvalidTransition, match=a.id):
        queue.update([b.id, a.id], priority=4)
    with pytest.raises(JobNotFound):
        queue.update([b.id, "JOB-20200101-00001"], priority=4)
    with pytest.raises(InvalidJob, match="priority"):
        queue.update([b.id], priority="high")
    assert rows(queue) == before
    changed = queue.update([b.id], priority=4, retries=2)
    assert [(j.last_read.priority, j.last_read.retries) for j in changed] == [(4, 2)]


@pytest.mark.parametrize("bad, message", [
    ({"before": "SELF"}, "cannot move JOB-.* before itself"),
    ({"before": "OTHER_RESOURCE"}, ("waits for nothing, JOB-.* for hardware: they are not in the"
                                   " same line")),
    ({"after": "OTHER_PRIORITY"}, ("has priority 0 and JOB-.* priority 3: a move keeps a job"
                                  " among the jobs of its priority .*--priority 3")),
    ({"top": True, "bottom": True}, "exactly one of"),
    ({}, "exactly one of"),
])
def test_a_move_that_cannot_be_made_changes_nothing(queue: jobmagics.Queue, bad: dict[str, Any],
                                                    message: str) -> None:
    job = quick(queue, "job")
    others = {"SELF": job.id, "OTHER_RESOURCE": quick(queue, "hw", resources=["hardware"]).id,
              "OTHER_PRIORITY": quick(queue, "p3", priority=3).id}
    before = rows(queue)
    with pytest.raises(InvalidJob, match=message):
        queue.move(job.id, **{k: others.get(v, v) if isinstance(v, str) else v
                              for k, v in bad.items()})
    assert rows(queue) == before


def test_a_setting_that_is_not_editable_is_refused_naming_those_that_are(
        queue: jobmagics.Queue) -> None:
    job = quick(queue, "job")
    with pytest.raises(InvalidJob, match="'cwd' cannot be changed; what can: name, priority"):
        queue.update(job.id, cwd="/")
    with pytest.raises(InvalidJob, match="unknown resource 'gpu'"):
        queue.update(job.id, resources=["gpu"])
    with pytest.raises(InvalidJob, match="only an experiment has a config"):
        queue.update(job.id, config={"points": 3})


def test_an_array_cannot_be_moved_but_its_waiting_elements_can_be_set_at_once(
        queue: jobmagics.Queue) -> None:
    array = queue.submit_array(["true"], items=[1, 2, 3])
    with pytest.raises(InvalidJob, match=f"{array.id} is an array: move its elements one by one"):
        queue.move(array.id, top=True)
    element = f"{array.id}_1"
    queue.move(element, top=True)                        # an element is a job like any other
    assert pending_order(queue)[0] == element
    queue.cancel(f"{array.id}_2")
    changed = queue.update([array.id], priority=3)
    assert sorted(j.id for j in changed) == [f"{array.id}_0", element]
    assert [e.record.priority for e in array.elements] == [3, 3, 0]   # the cancelled one kept
    queue.cancel(array.id)
    with pytest.raises(InvalidTransition, match=f"{array.id} has no element to change"):
        queue.update(array.id, priority=1)


def test_an_experiments_config_keys_change_and_the_event_says_which(
        queue: jobmagics.Queue) -> None:
    job = queue.submit(experiment="jobmagics.experiments:T1", config={"points": 11}, hold=True)
    job.update(config={"points": 21})
    assert job.record.experiment == {"target": "jobmagics.experiments:T1",
                                     "config": {"points": 21}}
    assert job.events()[-1]["detail"] == f"{queue.user} set config points 11 -> 21"
    assert "hardware" in job.record.resources


def test_a_changed_priority_puts_the_job_in_submission_order_among_its_new_priority(
        queue: jobmagics.Queue) -> None:
    _a, _b, c = (quick(queue, name, priority=2 if name == "a" else 0) for name in "abc")
    queue.move(c.id, top=True)                # c b (priority 0), a (priority 2)
    queue.update(c.id, priority=2)            # c was submitted after a
    assert pending_order(queue) == ["a", "c", "b"]
