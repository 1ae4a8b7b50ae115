"""Job arrays through the client and real workers: ids, the throttle, failure and retry of
elements, cancel, hold and release of a whole array, dependencies on an array, bad input."""
from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import jobmagics
from jobmagics.arrays import aggregate_state, format_indexes, parse_array_spec, sweep_points
from jobmagics.errors import InvalidJob, InvalidTransition, JobNotFound
from jobmagics.model import State
from tests.conftest import WorkerProcess


def _peak_running(array: jobmagics.JobArray) -> int:
    """The most elements that ran at once, from their recorded start and end times."""
    edges = []
    for job in array.elements:
        record = job.record
        assert record.started_at is not None and record.finished_at is not None
        edges += [(record.started_at, 1), (record.finished_at, -1)]
    running = peak = 0
    for _, step in sorted(edges):
        running += step
        peak = max(peak, running)
    return peak


# ---- the spec and the plain data ------------------------------------------------------------
@pytest.mark.parametrize(("spec", "indexes", "parallel"), [
    ("0-4", [0, 1, 2, 3, 4], None),
    ("0-9:3%2", [0, 3, 6, 9], 2),
    ("1,5,7", [1, 5, 7], None),
    ("0-2,10-11%1", [0, 1, 2, 10, 11], 1),
    ("7", [7], None),
])
def test_array_specs_read_as_slurm_reads_them(spec: str, indexes: list[int],
                                               parallel: int | None) -> None:
    assert parse_array_spec(spec) == (indexes, parallel)


@pytest.mark.parametrize("spec", ["", "0-", "5-1", "0-9%0", "0-9%", "a-b", "0-9:0", "1,,2",
                                  "1,1", "0-99999999999", "-3"])
def test_a_malformed_array_spec_is_one_clear_error(spec: str) -> None:
    with pytest.raises(InvalidJob, match="array"):
        parse_array_spec(spec)


def test_indexes_are_written_back_as_ranges() -> None:
    assert format_indexes([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"


@pytest.mark.parametrize(("counts", "state"), [
    ({"running": 1, "completed": 3, "failed": 1}, State.RUNNING),
    ({"pending": 1, "completed": 3}, State.PENDING),
    ({"waiting": 2}, State.WAITING),
    ({"completed": 4}, State.COMPLETED),
    ({"completed": 3, "failed": 1, "cancelled": 1}, State.FAILED),
    ({"completed": 3, "cancelled": 1, "timeout": 1}, State.CANCELLED),
    ({"completed": 3, "timeout": 1}, State.TIMEOUT),
])
def test_an_arrays_state_follows_its_elements(counts: dict[str, int], state: State) -> None:
    assert aggregate_state(counts) is state


def test_a_sweep_is_every_combination_with_the_last_name_fastest() -> None:
    assert sweep_points({"a": [1, 2], "b": ["x", "y"]}) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]


# ---- submitting ---------------------------------------------------------------------------
def test_an_array_is_one_id_and_its_elements_carry_their_index_and_item(
        queue: jobmagics.Queue) -> None:
    array = queue.submit_array(["echo", "--index", "{index}", "out-{item}.h5"],
                               items=["a", "b", "c"], name="fit")
    assert array.size == 3 and array.name == "fit"
    ids = [job.id for job in array.elements]
    assert ids == [f"{array.id}_{i}" for i in range(3)]
    third = array.element(2).record
    assert third.command == ["echo", "--index", "2", "out-c.h5"]
    assert (third.array_id, third.array_index) == (array.id, 2)
    assert queue.lookup(array.id) == array
    with pytest.raises(JobNotFound, match="is an array"):
        queue.get(array.id)


def test_listed_indexes_are_the_element_indexes(queue: jobmagics.Queue) -> None:
    indexes, _ = parse_array_spec("1,5,7")
    array = queue.submit_array(["echo", "{index}"], indexes=indexes)
    assert [j.record.array_index for j in array.elements] == [1, 5, 7]
    assert array.element(5).record.command == ["echo", "5"]


def test_the_throttle_keeps_the_rest_waiting_at_submit(queue: jobmagics.Queue) -> None:
    array = queue.submit_array(["true"], items=range(10), parallel=3)
    assert array.counts["pending"] == 3 and array.counts["waiting"] == 7
    events = queue.events(array.element(9).id)
    assert "waiting for a free slot" in events[0]["detail"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"command": ["true"], "items": []}, "at least one element"),
    ({"command": ["true"], "items": [1], "parallel": 0}, "parallel"),
    ({"command": ["true"], "items": [1], "parallel": -2}, "parallel"),
    ({"command": ["true"]}, "items="),
    ({"function": lambda x: x, "items": [threading.Lock()]}, "cannot send"),
    ({"experiment": "jobmagics.experiments:Rabi", "items": [0.1]}, "dicts of config"),
    ({"command": ["true"], "items": [1, 2], "indexes": [3, 3]}, "distinct"),
])
def test_bad_array_input_is_refused_and_queues_nothing(
        queue: jobmagics.Queue, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidJob, match=message):
        queue.submit_array(**kwargs)  # type: ignore[arg-type]
    assert queue.count() == 0 and queue.arrays(active=False) == []


def test_an_array_that_cannot_be_stored_whole_is_not_stored_at_all(
        queue: jobmagics.Queue) -> None:
    with pytest.raises(InvalidJob, match="unknown resource"):
        queue.submit_array(["true"], items=range(5), resources=["no-such-thing"])
    assert queue.count() == 0 and queue.arrays(active=False) == []


# ---- running ------------------------------------------------------------------------------
def test_elements_run_with_their_index_in_the_environment(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    start_worker("--slots", "2", "--no-kernel")
    array = queue.submit_array(["sh", "-c", "echo $JOBMAGICS_ARRAY_ID $JOBMAGICS_ARRAY_INDEX {item}"],
                               items=["x", "y"])
    assert array.wait(60).state is State.COMPLETED
    assert array.element(1).log().split() == [array.id, "1", "y"]


def test_python_and_function_elements_get_their_item(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    start_worker("--slots", "2", "--no-kernel")
    squares = queue.submit_array(function=lambda x: x * x, items=[2, 3, 4])
    assert squares.results(timeout=60) == [4, 9, 16]
    code = queue.submit_array(code="print(index, item, amplitude)",
                              items=[{"amplitude": 0.5}, {"amplitude": 1.5}])
    assert code.wait(120).state is State.COMPLETED
    assert "1 {'amplitude': 1.5} 1.5" in code.element(1).log()


def test_parallel_caps_running_elements_across_three_workers(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    for _ in range(3):               # one slot each: the elements must spread over workers
        start_worker("--slots", "1", "--no-kernel")
    array = queue.submit_array(["sleep", "0.3"], items=range(9), parallel=2)
    assert array.wait(120).state is State.COMPLETED
    assert _peak_running(array) <= 2
    workers = {job.record.worker for job in array.elements}
    assert len(workers) >= 2, "the elements were spread over the workers"


def test_a_failed_element_fails_the_array_and_retry_runs_only_the_failed(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess],
        tmp_path: Path) -> None:
    start_worker("--slots", "2", "--no-kernel")
    flag = tmp_path / "fixed"
    array = queue.submit_array(["sh", "-c", f"test {{index}} != 2 || test -e {flag}"],
                               items=range(4), parallel=2)
    assert array.wait(60).state is State.FAILED
    assert array.counts["failed"] == 1 and array.counts["completed"] == 3
    flag.touch()
    array.retry()
    assert array.wait(60).state is State.COMPLETED
    attempts = {job.record.array_index: job.record.attempt for job in array.elements}
    assert attempts == {0: 1, 1: 1, 2: 2, 3: 1}
    with pytest.raises(InvalidTransition, match="no element to retry"):
        array.retry()


def test_cancelling_an_array_ends_every_element_and_frees_nothing_to_run(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    start_worker("--slots", "2", "--no-kernel")
    array = queue.submit_array(["sleep", "30"], items=range(6), parallel=2)
    _wait_until(lambda: array.refresh().counts["running"] == 2)
    array.cancel()
    assert array.wait(30).state is State.CANCELLED
    assert array.counts["cancelled"] == 6
    never_started = [j for j in array.elements if j.record.started_at is None]
    assert len(never_started) == 4


def test_hold_and_release_of_an_array_keep_the_throttle(queue: jobmagics.Queue) -> None:
    array = queue.submit_array(["true"], items=range(6), parallel=2)
    array.hold()
    assert array.counts["waiting"] == 6
    assert all(job.record.held for job in array.elements)
    array.release()
    assert array.counts["pending"] == 2 and array.counts["waiting"] == 4


def test_a_job_after_an_array_waits_for_every_element(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    array = queue.submit_array(["sleep", "0.2"], items=range(3), parallel=1)
    after = queue.submit(["true"], after=[array.id])
    assert after.state is State.WAITING
    start_worker("--slots", "2", "--no-kernel")
    assert after.wait(60).state is State.COMPLETED
    last_end = max(job.record.finished_at or 0 for job in array.elements)
    assert (after.record.started_at or 0) >= last_end


def test_a_job_after_a_failed_array_is_cancelled_and_says_which_element(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    array = queue.submit_array(["sh", "-c", "exit {item}"], items=[0, 3])
    after = queue.submit(["true"], after=[array.id])
    start_worker("--slots", "2", "--no-kernel")
    assert after.wait(60).state is State.CANCELLED
    assert f"element {array.id}_1" in (after.error or "")
    with pytest.raises(InvalidJob, match="could never start"):
        queue.submit(["true"], after=[array.id])


def test_an_array_can_run_after_a_job(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    first = queue.submit(["sleep", "0.3"])
    array = queue.submit_array(["true"], items=range(4), parallel=2, after=[first])
    assert array.counts["waiting"] == 4
    start_worker("--slots", "2", "--no-kernel")
    assert array.wait(60).state is State.COMPLETED
    assert _peak_running(array) <= 2


def test_an_element_is_an_ordinary_job(queue: jobmagics.Queue,
                                       start_worker: Callable[..., WorkerProcess]) -> None:
    array = queue.submit_array(["sh", "-c", "exit {item}"], items=[0, 1], retries=1,
                               retry_delay=0.05)
    start_worker("--slots", "2", "--no-kernel")
    array.wait(60)
    failed = array.element(1)
    assert failed.state is State.FAILED and failed.attempt == 2
    failed.retry()
    assert failed.state in (State.PENDING, State.RUNNING, State.FAILED)
    assert failed.wait(60).attempt == 3


def test_an_executor_like_array_grows_and_keeps_its_throttle(queue: jobmagics.Queue) -> None:
    array = queue.submit_array(["true"], items=[0], parallel=1)
    more = queue.submit_array(["true"], items=[1, 2], extend=array)
    assert more.id == array.id and array.refresh().size == 3
    assert array.counts["pending"] == 1 and array.counts["waiting"] == 2


def test_only_the_owner_adds_to_an_array(queue_dir: Path) -> None:
    array = jobmagics.Queue(queue_dir).submit_array(["true"], items=[0])
    other = jobmagics.Queue(queue_dir)
    other.user = "someone-else"
    with pytest.raises(jobmagics.errors.PermissionDenied, match="may not add"):
        other.submit_array(["true"], items=[1], extend=array.id)


def test_map_yields_in_order_and_raises_an_items_exception_where_reached(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    start_worker("--slots", "2", "--no-kernel")

    def inverse(x: int) -> float:
        return 1 / x

    results = queue.map(inverse, [4, 2, 0, 1], chunksize=2)
    assert next(results) == 0.25 and next(results) == 0.5
    with pytest.raises(ZeroDivisionError):
        next(results)
    assert list(queue.map(abs, range(-500, 0))) == list(range(500, 0, -1))


def test_the_arrays_of_a_queue_page_stand_beside_its_jobs(queue: jobmagics.Queue) -> None:
    array = queue.submit_array(["true"], items=range(50), parallel=5)
    plain = queue.submit(["true"])
    page = queue.queue(elements=False)
    assert list(page) == [plain] and page.arrays == [array]
    assert page.total == 1
    assert len(queue.queue(limit=None)) == 51


def _wait_until(predicate: Callable[[], object], timeout: float = 30.0) -> None:
    from tests.conftest import wait_for
    wait_for(predicate, timeout)


def test_an_array_record_travels_as_plain_data(queue: jobmagics.Queue) -> None:
    array = queue.submit_array(["true"], items=range(3), parallel=2)
    data = array.to_dict()
    assert data["counts"]["pending"] == 2 and data["state"] == "pending"
    assert pickle.loads(pickle.dumps(array.last_read)).id == array.id
    assert os.fspath(queue.path) in repr(queue)


def test_a_recovered_queue_keeps_its_arrays_and_never_reuses_an_arrays_id(
        queue: jobmagics.Queue) -> None:
    from jobmagics.store.recovery import recover
    array = queue.submit_array(["true"], items=range(3), parallel=1)
    queue.layout.log(f"{array.id}_2").write_text("output of an element\n")
    queue.store.close()
    recover(queue.layout)
    again = jobmagics.Queue(queue.path)
    kept = again.array(array.id)
    assert kept.size == 3 and kept.counts["pending"] == 1 and kept.counts["waiting"] == 2
    later = again.submit(["true"])
    assert later.id > array.id and not later.id.startswith(array.id)


def test_history_can_leave_an_arrays_elements_out_and_count_without_them(
        queue: jobmagics.Queue) -> None:
    array = queue.submit_array(["true"], items=range(5))
    plain = queue.submit(["true"])
    queue.apply("cancel", [array.id, plain.id])
    assert [j.id for j in queue.history(elements=False)] == [plain.id]
    assert len(queue.history()) == 6
    assert queue.count(state="cancelled", elements=False) == 1
    assert queue.count(state="cancelled") == 6
    assert queue.retry(array.id) == array


def test_an_array_with_listed_indexes_grows_after_its_last(queue: jobmagics.Queue) -> None:
    array = queue.submit_array(["true"], indexes=[1, 5, 7])
    queue.submit_array(["true"], items=["a", "b"], extend=array)
    assert [j.record.array_index for j in array.elements] == [1, 5, 7, 8, 9]
    assert [j.record.array_index for j in array.elements_page(offset=2, limit=2)] == [7, 8]


def test_map_of_a_function_that_cannot_be_sent_names_it(queue: jobmagics.Queue) -> None:
    lock = threading.Lock()

    def holds_a_lock(x: int) -> bool:
        return lock.locked()

    with pytest.raises(InvalidJob, match="holds_a_lock"):
        queue.map(holds_a_lock, [1, 2])
    assert queue.count() == 0
