"""``claim_chained`` (jobmagics/store/batch.py): which waiting children a worker that just
submitted their parents to a batch system may submit at once, to wait there."""
from __future__ import annotations

import dataclasses

import jobmagics
from jobmagics.model import MAX_MEMORY, State
from jobmagics.store import Capacity
from kernel_worker.executors.batch_executor import BatchStore

SLURM = Capacity(slots=1, memory=MAX_MEMORY, backends=("local", "slurm"))


def _running(queue: jobmagics.Queue, *jobs: jobmagics.Job) -> None:
    """Claim these (and only these: they are the pending ones) as worker ``w``."""
    claimed = queue.store.claim("w", SLURM, len(jobs))
    assert {j.id for j in claimed} == {j.id for j in jobs}


def test_a_waiting_child_of_a_just_submitted_parent_is_taken_with_what_it_runs_after(
        queue: jobmagics.Queue) -> None:
    parent = queue.submit(["true"], backend="slurm")
    child = queue.submit(["true"], backend="slurm", after=[parent])
    _running(queue, parent)
    (link,) = BatchStore(queue.layout).claim_chained("w", "slurm", {parent.id: "100"})
    assert link.job.id == child.id and link.after == (("100", False),)
    assert child.refresh().state is State.RUNNING and child.record.worker == "w"
    steps = [e["state"] for e in queue.store.events(child.id)]
    assert steps[-3:] == ["waiting", "pending", "running"]


def test_a_parent_that_may_be_retried_keeps_its_children_in_the_queue(
        queue: jobmagics.Queue) -> None:
    parent = queue.submit(["true"], backend="slurm", retries=1)
    child = queue.submit(["true"], backend="slurm", after=[parent])
    _running(queue, parent)
    assert BatchStore(queue.layout).claim_chained("w", "slurm", {parent.id: "100"}) == []
    assert child.refresh().state is State.WAITING


def test_a_child_with_a_parent_still_in_the_queue_waits(queue: jobmagics.Queue) -> None:
    parent = queue.submit(["true"], backend="slurm")
    other = queue.submit(["true"], backend="slurm", hold=True)
    child = queue.submit(["true"], backend="slurm", after=[parent, other])
    _running(queue, parent)
    assert BatchStore(queue.layout).claim_chained("w", "slurm", {parent.id: "100"}) == []
    assert child.refresh().state is State.WAITING


def test_children_on_another_backend_or_of_another_user_wait(queue: jobmagics.Queue) -> None:
    parent = queue.submit(["true"], backend="slurm")
    local = queue.submit(["true"], after=[parent])
    spec = dataclasses.replace(queue._spec(command=["true"], backend="slurm")[0],
                               after=[parent.id])
    (foreign,) = queue.store.submit([spec], "someone-else", "host")
    _running(queue, parent)
    assert BatchStore(queue.layout).claim_chained("w", "slurm", {parent.id: "100"}) == []
    assert local.refresh().state is State.WAITING
    assert queue.get(foreign).state is State.WAITING


def test_an_array_s_elements_are_taken_after_a_whole_parent_array(queue: jobmagics.Queue) -> None:
    parents = queue.submit_array(command=["true"], items=range(2), backend="slurm")
    children = queue.submit_array(command=["true"], items=range(3), backend="slurm",
                                  after=[parents.id])
    _running(queue, *parents.elements)
    links = BatchStore(queue.layout).claim_chained("w", "slurm", {f"{parents.id}_0": "7_0",
                                                     f"{parents.id}_1": "7_1"})
    assert sorted(link.job.id for link in links) == [e.id for e in children.elements]
    assert all(set(link.after) == {("7_0", True), ("7_1", True)} for link in links)


def test_nothing_is_taken_while_the_queue_is_paused(queue: jobmagics.Queue) -> None:
    parent = queue.submit(["true"], backend="slurm")
    queue.submit(["true"], backend="slurm", after=[parent])
    _running(queue, parent)
    queue.pause()
    assert BatchStore(queue.layout).claim_chained("w", "slurm", {parent.id: "100"}) == []
