"""The life-cycle: which state changes are legal (every pair of states), what each user move
and worker step does from each state of a real queue, and that a new attempt starts afresh."""
from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

import jobmagics
from jobmagics.errors import InvalidTransition, JobNotFound
from jobmagics.fields import per_attempt
from jobmagics.model import JobRecord, State, check_transition
from jobmagics.store import Capacity, lifecycle

W, P, R = State.WAITING, State.PENDING, State.RUNNING
C, F, X, T = State.COMPLETED, State.FAILED, State.CANCELLED, State.TIMEOUT
# The life-cycle, written out independently of model.TRANSITIONS.
LEGAL = {
    (W, P), (W, W), (W, X),               # unblocked or released; held; cancelled
    (P, R), (P, W), (P, X),               # claimed; held; cancelled
    (R, C), (R, F), (R, X), (R, T),       # the attempt ends
    (R, P), (R, R),                       # requeued (or retried after a backoff); cancel asked
    (F, P), (F, W), (X, P), (X, W), (T, P), (T, W),   # retried (waiting while a parent blocks)
}
ANYWHERE = Capacity(slots=1, memory=1 << 40)
WORKER = "w"


@pytest.mark.parametrize(("old", "new"), list(itertools.product(State, State)),
                         ids=lambda s: s.value)
def test_every_pair_of_states_is_either_a_legal_step_or_refused(old: State, new: State) -> None:
    if (old, new) in LEGAL:
        check_transition("JOB-20260101-00001", old, new)
    else:
        with pytest.raises(InvalidTransition, match=f"from {old.value} to {new.value}"):
            check_transition("JOB-20260101-00001", old, new)


# ---- a job in each state, put there by the store's own calls -------------------------------
def _running(queue: jobmagics.Queue, **options: Any) -> str:
    job_id = queue.submit(command=["true"], **options).id
    [claimed] = queue.store.claim(WORKER, ANYWHERE, limit=1)
    assert claimed.id == job_id
    return job_id


def _ended(outcome: State) -> Callable[[jobmagics.Queue], str]:
    def make(queue: jobmagics.Queue) -> str:
        job_id = _running(queue)
        queue.store.finish(job_id, WORKER, outcome, 0 if outcome is C else 1, None)
        return job_id
    return make


def _waiting_on_a_parent(queue: jobmagics.Queue) -> str:
    parent = queue.submit(command=["true"]).id
    return queue.submit(command=["true"], after=[parent]).id


def _cancelled(queue: jobmagics.Queue) -> str:
    job_id = queue.submit(command=["true"]).id
    queue.store.cancel(job_id, queue.user)
    return job_id


SITUATIONS: dict[str, Callable[[jobmagics.Queue], str]] = {
    "waiting-on-a-parent": _waiting_on_a_parent,
    "held": lambda queue: queue.submit(command=["true"], hold=True).id,
    "pending": lambda queue: queue.submit(command=["true"]).id,
    "running": _running,
    "completed": _ended(C),
    "failed": _ended(F),
    "timeout": _ended(T),
    "cancelled": _cancelled,
}
STATE_OF = {"waiting-on-a-parent": W, "held": W, "pending": P, "running": R, "completed": C,
            "failed": F, "timeout": T, "cancelled": X}
# What each user move leaves the job in from each situation (None: deleted); a situation not
# named is refused with InvalidTransition.
USER_MOVES: dict[str, dict[str, State | None]] = {
    "cancel": {"waiting-on-a-parent": X, "held": X, "pending": X, "running": R},
    "hold": {"waiting-on-a-parent": W, "pending": W},
    "release": {"held": P},
    "retry": {"failed": P, "timeout": P, "cancelled": P},
    "delete": {"completed": None, "failed": None, "timeout": None, "cancelled": None},
}


Rows = list[dict[str, Any]]


def _snapshot(queue: jobmagics.Queue, job_id: str | None = None) -> tuple[Rows, ...]:
    """Every row of the jobs, events, results and deps (of one job, if ``job_id``)."""
    where, params = ("WHERE id = ?", (job_id,)) if job_id else ("", ())
    jobs = queue.store.db.read(f"SELECT * FROM jobs {where} ORDER BY seq", params)
    where = "WHERE job_id = ?" if job_id else ""
    events = queue.store.db.read(f"SELECT * FROM events {where} ORDER BY id", params)
    results = queue.store.db.read(f"SELECT * FROM results {where} ORDER BY job_id", params)
    deps = queue.store.db.read("SELECT * FROM deps ORDER BY child, parent")
    return tuple([dict(r) for r in rows] for rows in (jobs, events, results, deps))


@pytest.mark.parametrize("situation", SITUATIONS)
def test_each_situation_puts_the_job_in_its_state(queue: jobmagics.Queue, situation: str) -> None:
    job = queue.store.get(SITUATIONS[situation](queue))
    assert job.state is STATE_OF[situation]
    assert job.held is (situation == "held")


@pytest.mark.parametrize("situation", SITUATIONS)
@pytest.mark.parametrize("move", USER_MOVES)
def test_a_user_move_takes_its_step_or_is_refused_with_nothing_changed(
        queue: jobmagics.Queue, move: str, situation: str) -> None:
    job_id = SITUATIONS[situation](queue)
    before = _snapshot(queue)
    if situation not in USER_MOVES[move]:
        with pytest.raises(InvalidTransition, match=job_id):
            queue.store.apply(move, [job_id], queue.user)
        assert _snapshot(queue) == before
        return
    expected = USER_MOVES[move][situation]
    assert queue.store.apply(move, [job_id], queue.user) == [(job_id, expected)]
    if expected is None:
        with pytest.raises(JobNotFound):
            queue.store.get(job_id)
        assert _snapshot(queue, job_id)[:3] == ([], [], [])
        return
    job = queue.store.get(job_id)
    assert job.state is expected
    last = queue.store.events(job_id)[-1]
    assert last["state"] == expected.value and queue.user in last["detail"]
    assert job.held is {"hold": True, "release": False, "retry": False}.get(move,
                                                                           situation == "held")
    assert job.cancel_requested is (situation == "running")


@pytest.mark.parametrize("situation", SITUATIONS)
def test_worker_steps_apply_only_to_a_job_running_on_that_worker(
        queue: jobmagics.Queue, situation: str) -> None:
    job_id = SITUATIONS[situation](queue)
    before = _snapshot(queue, job_id)
    running = situation == "running"
    assert queue.store.finish(job_id, "another-worker", C, 0, None) is None
    assert queue.store.requeue(job_id, "another-worker", "stopped") is False
    assert queue.store.recover_worker("another-worker", "worker lost") == []
    if not running:
        assert queue.store.finish(job_id, WORKER, C, 0, None) is None
        assert queue.store.requeue(job_id, WORKER, "stopped") is False
        assert queue.store.recover_worker(WORKER, "worker lost") == []
    claimed = [j.id for j in queue.store.claim("w2", ANYWHERE, limit=10)]
    assert (job_id in claimed) is (situation == "pending")
    if situation != "pending":
        assert _snapshot(queue, job_id) == before


@pytest.mark.parametrize(("step", "expected"), [
    (lambda q, j: q.store.finish(j, WORKER, C, 0, None), C),
    (lambda q, j: q.store.finish(j, WORKER, F, 1, "exit code 1"), F),
    (lambda q, j: q.store.finish(j, WORKER, T, None, "timed out after 1 s"), T),
    (lambda q, j: q.store.finish(j, WORKER, X, None, "cancelled while running"), X),
    (lambda q, j: q.store.requeue(j, WORKER, "worker w stopped; back in the queue") and P, P),
    (lambda q, j: dict(q.store.recover_worker(WORKER, "worker lost"))[j], F),
], ids=["completes", "fails", "times-out", "is-cancelled", "is-given-back", "is-lost"])
def test_each_worker_step_from_running_ends_in_its_state_and_is_recorded(
        queue: jobmagics.Queue, step: Callable[[jobmagics.Queue, str], State],
        expected: State) -> None:
    job_id = _running(queue)
    assert step(queue, job_id) is expected
    assert queue.store.get(job_id).state is expected
    assert queue.store.events(job_id)[-1]["state"] == expected.value


@pytest.mark.parametrize("situation", SITUATIONS)
def test_the_one_step_refuses_every_illegal_target_with_nothing_changed(
        queue: jobmagics.Queue, situation: str) -> None:
    job_id = SITUATIONS[situation](queue)
    before = _snapshot(queue)
    old = STATE_OF[situation]
    for new in State:
        if (old, new) in LEGAL:
            continue
        with pytest.raises(InvalidTransition), queue.store.db.write() as conn:
            lifecycle.move(conn, lifecycle.fetch_job(conn, job_id), new, 1.0, "by hand")
        assert _snapshot(queue) == before, new


def test_a_step_from_a_record_read_before_an_earlier_step_is_refused(queue: jobmagics.Queue) -> None:
    job_id = queue.submit(command=["true"]).id
    before = _snapshot(queue)
    with pytest.raises(InvalidTransition, match="no longer pending"), \
            queue.store.db.write() as conn:
        stale = lifecycle.fetch_job(conn, job_id)
        lifecycle.start(conn, stale, WORKER, 1.0)
        lifecycle.start(conn, stale, WORKER, 2.0)
    assert _snapshot(queue) == before


# ---- a new attempt starts afresh ---------------------------------------------------------
# A value other than the default for every per-attempt column (model.JobRecord declares them).
DIRTY = {"started_at": 11.0, "finished_at": 12.0, "exit_code": 3, "error": "old error",
         "worker": "old-worker", "pid": 4242, "pid_started": 13.0, "progress": 0.5,
         "stage": "old stage", "cancel_requested": True, "backend_id": "slurm-1",
         "not_before": 14.0, "units": '{"gpu": ["0", "2"]}'}
FRESH = per_attempt(JobRecord)


def test_the_dirty_values_cover_every_per_attempt_column_with_a_non_default() -> None:
    assert set(DIRTY) == set(FRESH)
    assert all(DIRTY[name] != FRESH[name] for name in FRESH)


def _dirty(queue: jobmagics.Queue, job_id: str, *, keep: tuple[str, ...] = ()) -> None:
    columns = {k: v for k, v in DIRTY.items() if k not in keep}
    with queue.store.db.write() as conn:
        conn.execute(f"UPDATE jobs SET {', '.join(f'{k} = ?' for k in columns)} WHERE id = ?",
                     (*columns.values(), job_id))


def _per_attempt(job: JobRecord) -> dict[str, Any]:
    return {name: getattr(job, name) for name in FRESH}


def _failed_with_a_retry_left(queue: jobmagics.Queue) -> str:
    job_id = _running(queue, retries=1, retry_delay=60)
    _dirty(queue, job_id, keep=("worker", "cancel_requested"))  # a job asked to stop would end
    assert queue.store.finish(job_id, WORKER, F, 1, "exit code 1") is P
    return job_id


def _given_back(queue: jobmagics.Queue) -> str:
    job_id = _running(queue)
    _dirty(queue, job_id, keep=("worker", "cancel_requested"))
    assert queue.store.requeue(job_id, WORKER, "worker w stopped; back in the queue")
    return job_id


def _lost_with_a_retry_left(queue: jobmagics.Queue) -> str:
    job_id = _running(queue, retries=1)
    _dirty(queue, job_id, keep=("worker", "cancel_requested"))
    assert queue.store.recover_worker(WORKER, "worker lost") == [(job_id, P)]
    return job_id


def _retried(queue: jobmagics.Queue) -> str:
    job_id = _ended(F)(queue)
    _dirty(queue, job_id)
    assert queue.store.retry(job_id, queue.user) is P
    return job_id


@pytest.mark.parametrize(("make", "attempt", "sets"), [
    (_failed_with_a_retry_left, 2, {"not_before"}),
    (_given_back, 1, set()),
    (_lost_with_a_retry_left, 2, set()),
    (_retried, 2, set()),
], ids=["finish-with-a-retry-left", "requeue", "worker-lost-with-a-retry-left", "retry"])
def test_a_requeue_or_retry_resets_every_per_attempt_column(
        queue: jobmagics.Queue, make: Callable[[jobmagics.Queue], str], attempt: int,
        sets: set[str]) -> None:
    job = queue.store.get(make(queue))
    assert job.state is P and job.attempt == attempt
    reset = {name: value for name, value in _per_attempt(job).items() if name not in sets}
    assert reset == {name: FRESH[name] for name in reset}
    if sets:
        assert job.not_before > job.submitted_at      # the backoff


def test_the_life_cycle_s_requeue_resets_even_a_cancel_request(queue: jobmagics.Queue) -> None:
    job_id = _running(queue)
    _dirty(queue, job_id, keep=("worker",))
    with queue.store.db.write() as conn:
        lifecycle.requeue(conn, lifecycle.fetch_job(conn, job_id), 20.0, "by hand",
                          not_before=30.0, consume_attempt=True)
    job = queue.store.get(job_id)
    assert _per_attempt(job) == {**FRESH, "not_before": 30.0}
    assert job.attempt == 2


def test_a_claim_starts_the_attempt_from_every_per_attempt_default(queue: jobmagics.Queue) -> None:
    job_id = queue.submit(command=["true"]).id
    _dirty(queue, job_id, keep=("not_before",))        # else it is not claimable yet
    [claimed] = queue.store.claim(WORKER, ANYWHERE, limit=1)
    stored = queue.store.get(job_id)
    assert _per_attempt(claimed) == _per_attempt(stored)
    assert _per_attempt(stored) == {**FRESH, "worker": WORKER, "started_at": stored.started_at}
    assert stored.started_at is not None and stored.started_at >= stored.submitted_at
