"""Arrays and chains on the real single-node SLURM: an array is ONE ``sbatch --array`` (its
throttle SLURM's ``%P``), each element tracked as its own task and ended on its own; stopping
the whole array is one ``scancel``; a chain waits in SLURM with ``--dependency=afterok``."""
from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

import jobmagics
from jobmagics.model import State

LONG = 120.0        # SLURM takes seconds per job; never assert on timing


def scontrol(slurm_id: str) -> dict[str, str]:
    """The fields of ``scontrol show job`` (of an array job: of its first line)."""
    result = subprocess.run(["scontrol", "-o", "show", "job", slurm_id], capture_output=True,
                            text=True, timeout=30, check=False)
    first = result.stdout.splitlines()[0] if result.stdout.strip() else ""
    return dict(p.partition("=")[::2] for p in first.split() if "=" in p)


def option(argv: list[str], name: str) -> str | None:
    """The value of ``--name=value`` in one sbatch call."""
    return next((a.partition("=")[2] for a in argv if a.startswith(f"--{name}=")), None)


@pytest.fixture
def slurm_queue(slurm: str, queue: jobmagics.Queue, tool_calls: Callable[[str], Any],
                start_worker: Callable[..., Any]) -> jobmagics.Queue:
    """A queue served by one worker that submits ``--backend slurm`` jobs to SLURM through
    the logged tools."""
    start_worker("--slurm", "--slots", "1", "--no-kernel")
    return queue


def test_an_array_is_one_sbatch_whose_tasks_are_its_elements(
        slurm_queue: jobmagics.Queue, tool_calls: Callable[[str], list[list[str]]]) -> None:
    array = slurm_queue.submit_array(
        command=["sh", "-c", ("echo element {index} is task $SLURM_ARRAY_TASK_ID of"
                              " $SLURM_ARRAY_JOB_ID as $JOBMAGICS_JOB_ID")],
        items=range(5), parallel=2, backend="slurm", name="five")
    array.wait(LONG)
    assert array.state is State.COMPLETED, [(e.id, e.state, e.error) for e in array.elements]
    (sbatch,) = tool_calls("sbatch")
    assert option(sbatch, "array") == "0-4%2"
    ids = {element.record.backend_id for element in array.elements}
    slurm_id = next(iter(ids)).partition("_")[0]
    assert ids == {f"{slurm_id}_{index}" for index in range(5)}
    assert scontrol(slurm_id).get("ArrayTaskThrottle") == "2"
    for index, element in enumerate(array.elements):
        assert f"element {index} is task {index} of {slurm_id} as {element.id}" in element.log()


def test_a_function_array_s_results_come_back_through_files(
        slurm_queue: jobmagics.Queue, tool_calls: Callable[[str], list[list[str]]]) -> None:
    def square(x: int) -> int:
        return x * x

    array = slurm_queue.submit_array(function=square, items=[1, 2, 3], backend="slurm")
    assert array.wait(LONG).results() == [1, 4, 9]
    assert len(tool_calls("sbatch")) == 1
    assert not list((slurm_queue.path / "slurm" / "reports").iterdir())   # ingested, removed


def test_cancelling_an_array_is_one_scancel_of_its_array_job(
        slurm_queue: jobmagics.Queue, tool_calls: Callable[[str], list[list[str]]],
        wait_for: Callable[..., Any]) -> None:
    array = slurm_queue.submit_array(command=["sleep", "300"], items=range(5), parallel=2,
                                     backend="slurm")
    wait_for(lambda: sum("RUNNING" in (e.refresh().stage or "") for e in array.elements) == 2,
             timeout=LONG, interval=0.2)
    slurm_id = (array.elements[0].record.backend_id or "").partition("_")[0]
    array.cancel()
    array.wait(LONG)
    assert all(e.state is State.CANCELLED for e in array.elements)
    assert tool_calls("scancel") == [[slurm_id]]
    wait_for(lambda: scontrol(slurm_id).get("JobState") in ("CANCELLED", None), timeout=LONG)


def test_cancelling_one_element_cancels_its_task_only(
        slurm_queue: jobmagics.Queue, tool_calls: Callable[[str], list[list[str]]],
        wait_for: Callable[..., Any]) -> None:
    array = slurm_queue.submit_array(command=["sh", "-c", "sleep {item}"], items=[300, 1],
                                     backend="slurm")
    first = array.element(0)
    wait_for(lambda: "RUNNING" in (first.refresh().stage or ""), timeout=LONG, interval=0.2)
    first.cancel()
    array.wait(LONG)
    assert first.state is State.CANCELLED and array.element(1).state is State.COMPLETED
    assert [call[-1] for call in tool_calls("scancel")] == [first.record.backend_id]


def test_a_chain_waits_in_slurm_with_afterok_not_on_the_queue_host(
        slurm_queue: jobmagics.Queue, tool_calls: Callable[[str], list[list[str]]],
        wait_for: Callable[..., Any]) -> None:
    parent = slurm_queue.submit(["sh", "-c", "sleep 5; echo parent done"], backend="slurm")
    child = slurm_queue.submit(["sh", "-c", "echo child ran"], backend="slurm", after=[parent])
    # the child is in SLURM while its parent still runs: submitted when the parent was
    wait_for(lambda: child.refresh().record.backend_id is not None, timeout=LONG, interval=0.1)
    assert parent.refresh().state is State.RUNNING
    parent_id = parent.record.backend_id
    assert parent_id and scontrol(child.record.backend_id or "").get("Dependency", "").startswith(
        f"afterok:{parent_id}")
    assert child.wait(LONG).state is State.COMPLETED
    assert "child ran" in child.log()
    (_, second) = tool_calls("sbatch")
    assert option(second, "dependency") == f"afterok:{parent_id}"


def test_a_chain_s_child_is_cancelled_when_its_parent_fails_in_slurm(
        slurm_queue: jobmagics.Queue, wait_for: Callable[..., Any]) -> None:
    parent = slurm_queue.submit(["sh", "-c", "sleep 2; exit 3"], backend="slurm")
    child = slurm_queue.submit(["true"], backend="slurm", after=[parent])
    wait_for(lambda: child.refresh().record.backend_id is not None, timeout=LONG, interval=0.1)
    assert parent.wait(LONG).state is State.FAILED
    assert child.wait(LONG).state is State.CANCELLED
    assert f"dependency {parent.id} failed" in (child.error or "")


def test_an_array_after_an_array_waits_for_the_whole_array_job(
        slurm_queue: jobmagics.Queue, tool_calls: Callable[[str], list[list[str]]],
        wait_for: Callable[..., Any]) -> None:
    first = slurm_queue.submit_array(command=["sleep", "{item}"], items=[1, 2], backend="slurm")
    then = slurm_queue.submit_array(command=["echo", "then {index}"], items=range(3),
                                    backend="slurm", after=[first.id])
    then.wait(LONG)
    assert first.state is State.COMPLETED and then.state is State.COMPLETED
    calls = tool_calls("sbatch")
    assert len(calls) == 2
    first_job = (first.elements[0].record.backend_id or "").partition("_")[0]
    assert option(calls[1], "dependency") == f"afterok:{first_job}"
    assert option(calls[1], "array") == "0-2"


def test_a_job_with_retries_left_waits_in_the_queue_not_in_slurm(
        slurm_queue: jobmagics.Queue, tool_calls: Callable[[str], list[list[str]]]) -> None:
    # a parent that may be retried would leave its SLURM dependants waiting on the old attempt
    parent = slurm_queue.submit(["sh", "-c", "sleep 1"], backend="slurm", retries=1)
    child = slurm_queue.submit(["true"], backend="slurm", after=[parent])
    assert child.wait(LONG).state is State.COMPLETED
    assert all(option(call, "dependency") is None for call in tool_calls("sbatch"))


def test_a_link_given_back_by_a_stopping_worker_waits_for_its_parent_again(
        slurm: str, queue: jobmagics.Queue, start_worker: Callable[..., Any],
        wait_for: Callable[..., Any]) -> None:
    worker = start_worker("--slurm", "--slots", "1", "--no-kernel", "--shutdown-grace", "1")
    parent = queue.submit(["sleep", "300"], backend="slurm")
    child = queue.submit(["true"], backend="slurm", after=[parent])
    wait_for(lambda: child.refresh().record.backend_id is not None, timeout=LONG, interval=0.1)
    worker.stop(signal.SIGTERM)
    assert parent.refresh().state is State.PENDING
    assert child.refresh().state is State.WAITING      # not claimable before its parent ran
