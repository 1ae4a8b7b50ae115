"""Small function jobs: the worker sends a forked child its payload and takes its result back on
a pipe, then records the end of the attempt with that result in one transaction (Store.turn);
what does not fit a pipe still goes through the queue. The child is a plain, working process."""
from __future__ import annotations

import os

import pytest

import jobmagics
from jobmagics import JobFailed, State
from jobmagics.store import Capacity
from jobmagics.store.dispatch import AttemptEnd, AttemptStart
from kernel_worker.executors.zygote_report import (
    PIPE_ROOM,
    ChildQueue,
    encode_report,
    make_order,
    read_report,
    split_order,
)
from tests.conftest import WorkerProcess

ANYWHERE = Capacity(slots=4, memory=1 << 40)


def test_a_function_jobs_result_comes_back_whether_or_not_it_fits_the_pipe(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    small, big = queue.submit(function=abs, args=(-7,)), queue.submit(function=os.urandom,
                                                                       args=(PIPE_ROOM * 3,))
    assert small.result(60) == 7
    assert len(big.result(60)) == PIPE_ROOM * 3


def test_a_payload_too_big_to_travel_with_the_order_is_read_from_the_queue(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    blob = os.urandom(512 * 1024)
    assert queue.submit(function=len, args=(blob,)).result(60) == len(blob)


def test_a_function_that_raises_fails_its_job_with_its_exception(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    def fail_loudly() -> None:     # defined here so it is pickled by value, not by module name
        raise ValueError("bad sample")

    job = queue.submit(function=fail_loudly)
    with pytest.raises(JobFailed) as failed:
        job.result(60)
    assert isinstance(failed.value.__cause__, ValueError)
    assert job.refresh().error == "ValueError: bad sample"


def test_forked_children_draw_different_random_numbers(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    def random_draw() -> int:
        import random
        return random.getrandbits(64)

    draws = [job.result(60) for job in [queue.submit(function=random_draw) for _ in range(6)]]
    assert len(set(draws)) == len(draws), draws


def test_a_child_of_the_zygotes_fork_draws_from_a_random_stream_of_its_own() -> None:
    """The zygote forks without Python's after-fork handlers; the one that matters to a job,
    the reseed of ``random``, the child makes itself."""
    import random

    from kernel_worker.runners import zygote
    if zygote._RAW_FORK is None:
        pytest.skip("no C library fork here")
    read, write = os.pipe()
    pid = zygote._RAW_FORK()
    if pid == 0:
        zygote._after_fork()
        os.write(write, str(random.getrandbits(64)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = int(os.read(read, 100))
    os.close(read)
    assert child != random.getrandbits(64)


def test_a_forked_child_runs_threads_and_processes_of_its_own(queue: jobmagics.Queue, worker: WorkerProcess) -> None:
    def threads_and_a_process() -> list[int]:
        import subprocess
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(4) as pool:
            squares = list(pool.map(lambda x: x * x, range(5)))
        return [*squares, subprocess.run(["true"], check=False).returncode]

    assert queue.submit(function=threads_and_a_process).result(60) == [0, 1, 4, 9, 16, 0]


def test_a_pipe_holds_the_last_report_and_says_when_the_queue_has_the_result() -> None:
    read, write = os.pipe()
    try:
        os.write(write, encode_report(False, b"first", "ValueError: x"))
        os.write(write, encode_report(True, b"second", None))
        report, stored = read_report(read)
        assert (report, stored) is not None and not stored
        assert report is not None and (report.ok, report.blob, report.error) == (
            True, b"second", "ValueError: x")
    finally:
        os.close(read)
        os.close(write)


def test_a_report_too_big_for_the_pipe_goes_to_the_queue_and_the_pipe_says_so(queue: jobmagics.Queue) -> None:
    [job] = queue.submit_many([{"function": abs, "args": (-1,)}])
    read, write = os.pipe()
    try:
        child = ChildQueue(str(queue.path), None, None, write)
        child.store.save_result(job.id, True, b"x" * PIPE_ROOM)
        assert read_report(read) == (None, True)
        assert queue.store.result(job.id) == (True, b"x" * PIPE_ROOM)
    finally:
        os.close(read)
        os.close(write)


def test_an_order_carries_a_small_payload_and_says_where_a_big_one_is() -> None:
    header = {"job_id": "JOB-20000101-00001"}
    assert split_order(make_order(header, b"\0payload\0", known=True))[1] == b"\0payload\0"
    assert split_order(make_order(header, None, known=True))[1] is None
    assert split_order(make_order(header, b"x" * (1 << 20), known=True))[1] is False


def test_one_turn_records_started_processes_ended_attempts_with_results_and_claims(queue: jobmagics.Queue) -> None:
    first, second, third = queue.submit_many([{"function": abs, "args": (-i,)} for i in range(3)])
    claimed = queue.store.turn("w", capacity=ANYWHERE, limit=2).claimed
    assert [j.id for j in claimed] == [first.id, second.id]
    turn = queue.store.turn(
        "w", started=[AttemptStart(first.id, 4242, 1.5), AttemptStart(second.id, 4343, 2.5)],
        ended=[AttemptEnd(first.id, State.COMPLETED, 0, None, (True, b"v", None)),
               AttemptEnd(second.id, State.FAILED, 1, "exit code 1", (False, b"e", "KeyError: k"))],
        capacity=ANYWHERE, limit=2)
    assert turn.states == {first.id: State.COMPLETED, second.id: State.FAILED}
    assert [j.id for j in turn.claimed] == [third.id]
    assert queue.store.result(first.id) == (True, b"v")
    assert queue.store.result(second.id) == (False, b"e")
    assert queue.get(second.id).error == "KeyError: k"        # the job's own word, as saved
    assert queue.store.pid_of(first.id)[0] == 4242


def test_a_late_turn_for_a_job_given_to_another_worker_changes_nothing(queue: jobmagics.Queue) -> None:
    [job] = queue.submit_many([{"function": abs, "args": (-1,), "retries": 1}])
    [claimed] = queue.store.turn("w1", capacity=ANYWHERE, limit=1).claimed
    queue.store.recover_worker("w1", "worker lost: test")
    [again] = queue.store.turn("w2", capacity=ANYWHERE, limit=1).claimed
    assert again.id == claimed.id == job.id
    late = queue.store.turn("w1", ended=[AttemptEnd(job.id, State.COMPLETED, 0, None,
                                                    (True, b"stale", None))])
    assert late.states == {job.id: None}
    assert queue.store.result(job.id) is None
    assert queue.get(job.id).state is State.RUNNING
