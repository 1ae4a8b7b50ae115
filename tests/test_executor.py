"""``jobmagics.Executor`` against the standard library's documented behaviour: each conformance
test body runs once with ``ProcessPoolExecutor(2)`` and once with ``jobmagics.Executor`` over a
real queue and a real worker (2 slots, ``parallel=2``). Then what only a queue's Executor does:
futures found again after a restart, the throttle, cancelling in the queue, and ``q.map`` with
automatic chunking."""
from __future__ import annotations

import concurrent.futures as cf
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

import jobmagics
from jobmagics.errors import InvalidJob, JobFailed, JobNotFound
from jobmagics.model import State
from kernel_worker import spawn
from tests.conftest import ROOT, wait_for

# The calls go by value: a job's process cannot import this module (pytest's own import of it).
cloudpickle.register_pickle_by_value(sys.modules[__name__])

MakeExecutor = Callable[[], cf.Executor]
# Calls that keep both executors busy: ProcessPoolExecutor(2) sets running the two its
# processes took and the three its call queue (2 slots + 1 extra) then holds for them;
# jobmagics.Executor(parallel=2) runs two and holds three back. A call after these is pending.
BUSY = 5


# ---- the calls ------------------------------------------------------------------------------
def square(x: int) -> int:
    return x * x


def inverse(x: float) -> float:
    return 1 / x


def power(base: int, exponent: int = 2) -> int:
    return int(base ** exponent)


def blocked_until(flag: str, value: Any = None) -> Any:
    """Return ``value`` once the file ``flag`` exists (at most a minute)."""
    deadline = time.monotonic() + 60
    while not os.path.exists(flag):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{flag} never appeared")
        time.sleep(0.01)
    return value


def span(seconds: float) -> tuple[float, float]:
    """When the call started and ended."""
    started = time.time()
    time.sleep(seconds)
    return started, time.time()


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


# ---- fixtures -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def worker_queue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A queue with one worker (2 slots) for the whole module: every test uses its own array."""
    folder = tmp_path_factory.mktemp("executor")
    handle = spawn(folder / "queue", "--slots", "2", "--no-kernel", log=folder / "worker.log",
                   cwd=ROOT)
    yield folder / "queue"
    handle.stop()


@pytest.fixture
def executor_queue(worker_queue: Path) -> jobmagics.Queue:
    return jobmagics.Queue(worker_queue)


@pytest.fixture
def flag(tmp_path: Path) -> Path:
    """A file that does not exist yet: ``blocked_until`` calls wait for it."""
    return tmp_path / "go"


@pytest.fixture(params=["ProcessPoolExecutor", "jobmagics.Executor"])
def make_executor(request: pytest.FixtureRequest, flag: Path) -> Iterator[MakeExecutor]:
    """Executors of the kind the test is run with; shut down (blocked calls released) after."""
    queue = (jobmagics.Queue(request.getfixturevalue("worker_queue"))
             if request.param == "jobmagics.Executor" else None)
    made: list[cf.Executor] = []

    def make() -> cf.Executor:
        made.append(cf.ProcessPoolExecutor(2) if queue is None
                    else jobmagics.Executor(queue=queue, parallel=2))
        return made[-1]

    yield make
    flag.touch()
    for executor in made:
        executor.shutdown(wait=True, cancel_futures=True)


# ---- the standard library's behaviour, for both -----------------------------------------------
def test_a_future_gives_the_calls_value(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    assert executor.submit(power, 3).result(60) == 9
    assert executor.submit(power, 2, exponent=10).result(60) == 1024


def test_a_future_raises_the_calls_own_exception(make_executor: MakeExecutor) -> None:
    future = make_executor().submit(inverse, 0)
    assert isinstance(future.exception(60), ZeroDivisionError)
    with pytest.raises(ZeroDivisionError):
        future.result(60)
    assert future.done() and not future.cancelled() and not future.running()


def test_as_completed_yields_every_future_once(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    futures = [executor.submit(square, i) for i in range(6)]
    done = list(cf.as_completed(futures, timeout=60))
    assert len(done) == 6 and set(done) == set(futures)
    assert sorted(f.result() for f in done) == [0, 1, 4, 9, 16, 25]


def test_wait_returns_at_the_first_completed_then_when_all_are(make_executor: MakeExecutor,
                                                               flag: Path) -> None:
    executor = make_executor()
    blocked = executor.submit(blocked_until, str(flag), "late")
    quick = executor.submit(square, 3)
    done, not_done = cf.wait([blocked, quick], timeout=60, return_when=cf.FIRST_COMPLETED)
    assert done == {quick} and not_done == {blocked}
    flag.touch()
    done, not_done = cf.wait([blocked, quick], timeout=60, return_when=cf.ALL_COMPLETED)
    assert done == {blocked, quick} and not not_done and blocked.result() == "late"


def test_a_done_callback_runs_when_the_future_completes_and_at_once_on_a_done_one(
        make_executor: MakeExecutor) -> None:
    completed = threading.Event()
    seen: list[int] = []

    def record(future: cf.Future[int]) -> None:
        seen.append(future.result())
        completed.set()

    future = make_executor().submit(square, 4)
    future.add_done_callback(record)
    assert completed.wait(60) and seen == [16]
    at_once: list[int] = []
    future.add_done_callback(lambda f: at_once.append(f.result()))
    assert at_once == [16]


def test_cancel_stops_a_pending_call_but_not_a_running_or_finished_one(
        make_executor: MakeExecutor, flag: Path) -> None:
    executor = make_executor()
    finished = executor.submit(square, 2)
    assert finished.result(60) == 4
    blockers = [executor.submit(blocked_until, str(flag), i) for i in range(BUSY)]
    pending = executor.submit(square, 5)
    wait_for(blockers[0].running, 60)
    assert pending.cancel() and pending.cancelled() and pending.done()
    assert not blockers[0].cancel() and not finished.cancel()
    with pytest.raises(cf.CancelledError):
        pending.result(0)
    flag.touch()
    assert [b.result(60) for b in blockers] == list(range(BUSY))


def test_map_yields_in_order_and_raises_the_first_exception_where_reached(
        make_executor: MakeExecutor) -> None:
    executor = make_executor()
    assert list(executor.map(square, range(12))) == [i * i for i in range(12)]
    assert list(executor.map(power, [2, 3], [3, 2])) == [8, 9]
    assert list(executor.map(square, range(10), chunksize=3)) == [i * i for i in range(10)]
    for chunksize in (1, 2):
        results = executor.map(inverse, [4, 2, 0, 1, 0], chunksize=chunksize)
        assert next(results) == 0.25 and next(results) == 0.5
        with pytest.raises(ZeroDivisionError):
            next(results)


def test_map_raises_timeout_error_when_a_result_is_late(make_executor: MakeExecutor,
                                                        flag: Path) -> None:
    results = make_executor().map(blocked_until, [str(flag)], timeout=0.5)
    with pytest.raises(cf.TimeoutError):
        next(results)


def test_shutdown_can_cancel_the_calls_not_started(make_executor: MakeExecutor,
                                                   flag: Path) -> None:
    executor = make_executor()
    blockers = [executor.submit(blocked_until, str(flag), i) for i in range(BUSY)]
    later = [executor.submit(square, i) for i in range(2)]
    wait_for(lambda: blockers[0].running() and blockers[1].running(), 60)
    executor.shutdown(wait=False, cancel_futures=True)
    wait_for(lambda: all(f.cancelled() for f in later), 60)
    flag.touch()
    assert [b.result(60) for b in blockers[:2]] == [0, 1]


def test_the_context_manager_waits_for_every_call(make_executor: MakeExecutor) -> None:
    with make_executor() as executor:
        futures = [executor.submit(square, i) for i in range(3)]
    assert all(f.done() for f in futures) and [f.result() for f in futures] == [0, 1, 4]


def test_submit_after_shutdown_is_refused(make_executor: MakeExecutor) -> None:
    executor = make_executor()
    executor.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(square, 2)


# ---- what only a queue's Executor does ------------------------------------------------------
_ATTACH = """
import json, pathlib, sys
import jobmagics
queue, array_id, flag = sys.argv[1:]
executor = jobmagics.Executor.attach(array_id, queue=jobmagics.Queue(queue))
done_at_once = [f.done() for f in executor.futures]
pathlib.Path(flag).touch()
print(json.dumps({"done": done_at_once, "results": [f.result(60) for f in executor.futures]}))
"""


def test_the_futures_are_found_again_by_a_new_process(executor_queue: jobmagics.Queue,
                                                      flag: Path) -> None:
    executor = jobmagics.Executor(queue=executor_queue)
    finished = [executor.submit(square, i) for i in range(4)]
    cf.wait(finished, timeout=60)
    executor.submit(blocked_until, str(flag), "released")
    assert executor.array_id is not None
    found = subprocess.run([sys.executable, "-c", _ATTACH, str(executor_queue.path),
                            executor.array_id, str(flag)], capture_output=True, text=True,
                           cwd=ROOT, timeout=120, check=True)
    assert json.loads(found.stdout) == {"done": [True] * 4 + [False],
                                        "results": [0, 1, 4, 9, "released"]}


def test_attach_follows_any_array_of_function_elements(executor_queue: jobmagics.Queue) -> None:
    array = executor_queue.submit_array(function=inverse, items=[1, 0, 4])
    attached = jobmagics.Executor.attach(array.id, queue=jobmagics.Queue(executor_queue.path))
    first, failing, last = attached.futures
    assert first.result(60) == 1 and last.result(60) == 0.25
    assert isinstance(failing.exception(60), ZeroDivisionError)
    assert [f.job_id for f in attached.futures] == [job.id for job in array.elements]
    with pytest.raises(JobNotFound):
        jobmagics.Executor.attach("JOB-20200101-00001", queue=executor_queue)


def test_parallel_one_runs_one_call_at_a_time_on_a_worker_with_two_slots(
        executor_queue: jobmagics.Queue) -> None:
    with jobmagics.Executor(queue=executor_queue, parallel=1) as executor:
        spans = sorted(executor.map(span, [0.2] * 4))
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))


def test_a_cancelled_future_cancels_its_job_in_the_queue(executor_queue: jobmagics.Queue,
                                                         flag: Path) -> None:
    executor = jobmagics.Executor(queue=executor_queue, parallel=1)
    blocker = executor.submit(blocked_until, str(flag), "done")
    waiting = executor.submit(square, 3)
    assert waiting.cancel()
    assert executor_queue.get(waiting.job_id).state is State.CANCELLED
    flag.touch()
    assert blocker.result(60) == "done"
    executor.shutdown()


def test_a_job_cancelled_by_someone_else_cancels_its_future(executor_queue: jobmagics.Queue,
                                                            flag: Path) -> None:
    executor = jobmagics.Executor(queue=executor_queue, parallel=1)
    blocker = executor.submit(blocked_until, str(flag), "done")
    waiting = executor.submit(square, 3)
    jobmagics.Queue(executor_queue.path).cancel(waiting.job_id)
    cf.wait([waiting], timeout=60)
    assert waiting.cancelled()
    flag.touch()
    executor.shutdown()
    assert blocker.result() == "done"


def test_deleting_an_ended_job_leaves_the_other_futures_right(executor_queue: jobmagics.Queue,
                                                               flag: Path) -> None:
    executor = jobmagics.Executor(queue=executor_queue, parallel=1)
    assert executor.submit(square, 0).result(60) == 0
    blocker = executor.submit(blocked_until, str(flag), "done")
    after = executor.submit(square, 2)
    executor_queue.delete(executor.futures[0].job_id)     # the elements after it move up
    flag.touch()
    assert blocker.result(60) == "done" and after.result(60) == 4
    executor.shutdown()


def test_a_call_whose_process_died_raises_job_failed(executor_queue: jobmagics.Queue) -> None:
    with jobmagics.Executor(queue=executor_queue) as executor:
        future = executor.submit(die)
    error = future.exception()
    assert isinstance(error, JobFailed) and error.job_id == future.job_id


def test_an_unpicklable_call_is_one_clear_error_and_queues_nothing(
        queue: jobmagics.Queue) -> None:
    lock = threading.Lock()
    executor = jobmagics.Executor(queue=queue)
    with pytest.raises(InvalidJob, match=r"cannot send .*<lambda>\(...\) to the queue"):
        executor.submit(lambda: lock)
    with pytest.raises(InvalidJob, match="cannot send square"):
        executor.submit(square, lock)
    with pytest.raises(InvalidJob, match="cannot send"):
        executor.map(lambda x: (x, lock), range(3), chunksize=2)
    with pytest.raises(InvalidJob, match="runs callables, not int"):
        executor.submit(5)
    with pytest.raises(InvalidJob, match="chunksize"):
        executor.map(square, range(3), chunksize=0)
    with pytest.raises(InvalidJob, match="unknown job option 'colour'"):
        jobmagics.Executor(queue=queue, colour="red")
    assert queue.count() == 0 and executor.array_id is None


def test_map_chunks_ten_thousand_items_automatically_and_keeps_their_order(
        executor_queue: jobmagics.Queue) -> None:
    squares = [i * i for i in range(10_000)]
    assert list(executor_queue.map(square, range(10_000))) == squares
    with jobmagics.Executor(queue=executor_queue) as executor:
        assert list(executor.map(square, range(10_000), chunksize=None)) == squares
        assert len(executor.futures) < 100
    results = executor_queue.map(inverse, [1, 2, 0, 4])
    assert next(results) == 1.0 and next(results) == 0.5
    with pytest.raises(ZeroDivisionError):
        next(results)
