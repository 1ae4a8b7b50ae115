"""Bad input through the Python API: one clear error, and nothing changed (issue 8, item 6)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import jobmagics
from jobmagics.errors import (
    InvalidJob,
    InvalidTransition,
    JobFailed,
    JobNotFound,
    PermissionDenied,
    ResultNotSent,
)
from tests.conftest import WorkerProcess

UNKNOWN = "JOB-20000101-00001"


def unchanged(queue: jobmagics.Queue) -> tuple[Any, ...]:
    """Every job's state, held flag, attempt and error, and the event count."""
    return tuple((j.id, j.state.value, j.last_read.held, j.attempt, j.error) for j in queue.jobs(limit=None)) + (
        sum(len(queue.events(j.id)) for j in queue.jobs(limit=None)),)


@pytest.mark.parametrize("call", [
    lambda q: q.submit(command=["true"], name="fit-\udcff"),
    lambda q: q.submit(code="print('\udcff')"),
    lambda q: q.submit(command=["true"], cwd="/tmp/\udce9t\udce9"),
    lambda q: q.submit_many([{"command": ["true"]}, {"command": ["true"], "name": "\udcff"}]),
    lambda q: q.jobs(user="\udcff"),
    lambda q: q.jobs(name="\udcff"),
    lambda q: q.history(user="\udcff"),
    lambda q: q.queue(user="\udcff"),
    lambda q: q.count(user="\udcff"),
], ids=["name", "code", "cwd", "one-of-many", "user-filter", "name-filter", "history-user", "queue-user", "count"])
def test_text_that_is_not_utf8_is_one_invalid_job_error(queue: jobmagics.Queue, call: Callable[[Any], Any]) -> None:
    queue.submit(command=["true"])
    before = (queue.count(), queue.data_version())
    with pytest.raises(InvalidJob, match="not UTF-8 text"):
        call(queue)
    assert (queue.count(), queue.data_version()) == before


def test_a_stage_that_is_not_utf8_is_refused_by_the_store(queue: jobmagics.Queue) -> None:
    job = queue.submit(command=["true"])
    with pytest.raises(InvalidJob, match="stage is not UTF-8"):
        queue.store.set_progress(job.id, 0.5, "step \udcff")


def test_cancel_of_a_good_and_an_unknown_id_cancels_neither(queue: jobmagics.Queue) -> None:
    good = queue.submit(command=["true"])
    before = unchanged(queue)
    with pytest.raises(JobNotFound, match=UNKNOWN):
        queue.apply("cancel", [good.id, UNKNOWN])
    assert unchanged(queue) == before and good.state == "pending"


# per move: how a job that allows it is made, and how one that does not
GOOD_AND_BAD: dict[str, tuple[Callable[[jobmagics.Job], Any], Callable[[jobmagics.Job], Any]]] = {
    "cancel": (lambda j: j, lambda j: j.cancel()),          # pending / already cancelled
    "hold": (lambda j: j, lambda j: j.hold()),              # pending / already held
    "release": (lambda j: j.hold(), lambda j: j),           # held / not held
    "retry": (lambda j: j.cancel(), lambda j: j),           # cancelled / pending
    "delete": (lambda j: j.cancel(), lambda j: j),          # cancelled / pending
}


@pytest.mark.parametrize("action", list(GOOD_AND_BAD))
def test_every_move_on_several_ids_is_all_or_nothing(queue: jobmagics.Queue, action: str) -> None:
    """Jobs that allow the move, plus one that does not: nothing moves, the bad one is named."""
    make_good, make_bad = GOOD_AND_BAD[action]
    goods = [queue.submit(command=["true"]) for _ in range(2)]
    bad = queue.submit(command=["true"])
    for job in goods:
        make_good(job)
    make_bad(bad)
    before = unchanged(queue)
    with pytest.raises(InvalidTransition, match=bad.id):
        queue.apply(action, [goods[0].id, bad.id, goods[1].id])
    assert unchanged(queue) == before
    outcomes = queue.apply(action, [g.id for g in goods])
    assert [job_id for job_id, _ in outcomes] == [g.id for g in goods]


def test_a_batch_handles_the_jobs_that_depend_on_each_other(queue: jobmagics.Queue) -> None:
    parent = queue.submit(command=["true"])
    child = queue.submit(command=["true"], after=[parent])
    assert queue.apply("cancel", [parent.id, child.id]) == [(parent.id, jobmagics.State.CANCELLED),
                                                            (child.id, jobmagics.State.CANCELLED)]
    # the child cannot be retried alone (its parent failed), but with its parent it can, in any order
    with pytest.raises(InvalidTransition, match=f"runs after {parent.id}"):
        queue.apply("retry", [child.id])
    states = dict(queue.apply("retry", [child.id, parent.id]))
    assert states == {child.id: jobmagics.State.WAITING, parent.id: jobmagics.State.PENDING}


def test_a_batch_checks_permission_for_every_job_first(queue: jobmagics.Queue) -> None:
    mine = queue.submit(command=["true"])
    theirs = queue.submit(command=["true"])
    with queue.store.db.write() as conn:       # as if another account had submitted it
        conn.execute("UPDATE jobs SET user = 'somebody-else' WHERE id = ?", (theirs.id,))
    before = unchanged(queue)
    with pytest.raises(PermissionDenied, match=theirs.id):
        queue.apply("hold", [mine.id, theirs.id])
    assert unchanged(queue) == before


@pytest.mark.parametrize("call, error", [
    (lambda q, i: q.apply("explode", [i]), "unknown action"),
    (lambda q, i: q.apply("cancel", []), "at least one job id"),
    (lambda q, i: q.apply("cancel", i), "list of job ids"),
    (lambda q, i: q.apply("cancel", [i, "nonsense"]), "not a job id"),
])
def test_apply_refuses_malformed_requests(queue: jobmagics.Queue, call: Callable[..., Any], error: str) -> None:
    job = queue.submit(command=["true"])
    with pytest.raises(InvalidJob, match=error):
        call(queue, job.id)
    assert job.state == "pending"


def test_a_repeated_id_is_one_request(queue: jobmagics.Queue) -> None:
    job = queue.submit(command=["true"])
    assert queue.apply("cancel", [job.id, job.id]) == [(job.id, jobmagics.State.CANCELLED)]


def _next_id(queue: jobmagics.Queue) -> str:
    probe = queue.submit(command=["true"])
    probe.cancel()
    day, number = probe.id.rsplit("-", 1)
    return f"{day}-{int(number) + 1:05d}"


def test_a_job_after_itself_is_refused_and_uses_up_no_id(queue: jobmagics.Queue) -> None:
    own = _next_id(queue)
    with pytest.raises(InvalidJob, match=f"{own} cannot run after itself"):
        queue.submit(command=["true"], after=[own])
    assert queue.submit(command=["true"]).id == own       # the id was not consumed


def test_a_cycle_within_one_batch_is_refused_naming_it(queue: jobmagics.Queue) -> None:
    first = _next_id(queue)
    day, number = first.rsplit("-", 1)
    second, third = (f"{day}-{int(number) + i:05d}" for i in (1, 2))
    count = queue.count()
    with pytest.raises(InvalidJob, match=f"{first} runs after {second} runs after {third} runs after {first}"):
        queue.submit_many([{"command": ["true"], "after": [second]}, {"command": ["true"], "after": [third]},
                           {"command": ["true"], "after": [first]}])
    assert queue.count() == count
    # a forward reference that is no cycle is still fine
    jobs = queue.submit_many([{"command": ["true"], "after": [second]}, {"command": ["true"]}])
    assert [j.state for j in jobs] == ["waiting", "pending"]


def test_a_function_whose_value_cannot_be_pickled_fails_and_result_raises(
        queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    def make_lock() -> Any:
        import threading
        return threading.Lock()

    job = queue.submit(function=make_lock)
    with pytest.raises(JobFailed, match="its return value could not be pickled") as info:
        job.result(timeout=60)
    assert job.state == "failed" and job.error.startswith("its return value could not be pickled: TypeError")
    assert isinstance(info.value.__cause__, ResultNotSent)


def test_a_function_that_raises_says_which_exception_in_its_error(
        queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    job = queue.submit(function=int, args=("not a number",))
    with pytest.raises(JobFailed) as info:
        job.result(timeout=60)
    assert job.error.startswith("ValueError: invalid literal for int()")
    assert isinstance(info.value.__cause__, ValueError)
