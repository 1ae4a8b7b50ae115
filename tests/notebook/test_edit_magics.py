"""``%job move`` and ``%job set`` in a real kernel: they act on the queue, say what they did,
default to the last job submitted from the notebook, and every mistake is one UsageError."""
from __future__ import annotations

import jobmagics
from tests.notebook.conftest import KernelSession


def submitted(kernel: KernelSession, line: str) -> str:
    cell = kernel.run(f"%job submit {line}\nprint(_job.id)")
    assert cell.error is None, cell.error
    return cell.stdout.strip().splitlines()[-1]


def test_move_and_set_in_a_notebook_reorder_and_change_jobs(
        kernel: KernelSession, queue: jobmagics.Queue) -> None:
    first = submitted(kernel, "-- true")
    second = submitted(kernel, "-- true")
    moved = kernel.run(f"%job move {second} --top")
    assert moved.error is None, moved.error
    assert moved.stdout.strip() == f"{second}: moved to the top (priority 0)"
    assert [j.id for j in queue.queue()] == [second, first]
    changed = kernel.run("%job set --priority 5 --name 'the fit'")      # the last job submitted
    assert changed.error is None, changed.error
    assert changed.stdout.strip() == f"{second}: name the fit, priority 5"
    assert (queue.get(second).priority, queue.get(second).name) == (5, "the fit")
    assert queue.events(second)[-1]["detail"] == (f"{queue.user} set name none -> the fit,"
                                                  " priority 0 -> 5")


def test_a_mistake_in_move_or_set_is_one_usage_error_and_changes_nothing(
        kernel: KernelSession, queue: jobmagics.Queue) -> None:
    job = submitted(kernel, "--resource hardware -- true")
    other = submitted(kernel, "-- true")
    before = [(j.id, j.last_read.priority) for j in queue.queue()]
    for line, says in ((f"move {job}", "exactly one of"),
                       (f"move {job} --before {other}", "they are not in the same line"),
                       (f"set {job} --priority high", "priority must be a whole number"),
                       (f"set {job} --cwd /", "unrecognized arguments: --cwd"),
                       ("set JOB-20200101-00001 --priority 1", "no job 'JOB-20200101-00001'")):
        cell = kernel.run(f"%job {line}")
        assert cell.error is not None and cell.error["ename"] == "UsageError", (line, cell.error)
        assert says in cell.error["evalue"] and "\n" not in cell.error["evalue"].strip()
    assert [(j.id, j.last_read.priority) for j in queue.queue()] == before
