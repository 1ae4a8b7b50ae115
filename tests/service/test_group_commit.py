"""Group commit: submissions that arrive together are written in one transaction, and each is
still all or nothing on its own."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from jobmagics import Queue
from jobmagics.errors import InvalidJob, QueueError
from jobmagics.service.group_commit import GroupCommit
from jobmagics.store import Submission


def _spec(queue: Queue, **options: object):
    return queue._spec(command=["true"], **options)[0]


def test_many_callers_at_once_each_get_their_own_jobs_and_a_bad_one_fails_alone(tmp_path: Path) -> None:
    queue = Queue(tmp_path / "q")
    commits = GroupCommit(queue.store)
    outcomes: dict[int, object] = {}
    gate = threading.Barrier(16)

    def caller(n: int) -> None:
        specs = [_spec(queue, name=f"c{n}-{i}") for i in range(3)]
        if n == 7:        # one caller names a resource nobody serves: its jobs only are refused
            specs.append(_spec(queue, resources=["nowhere"]))
        gate.wait()
        try:
            outcomes[n] = commits.submit(Submission(specs, f"user{n}", "host"))
        except InvalidJob as exc:
            outcomes[n] = exc

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert isinstance(outcomes[7], InvalidJob) and "nowhere" in str(outcomes[7])
    given = [i for n, ids in outcomes.items() if n != 7 for i in ids]  # type: ignore[union-attr]
    assert len(given) == len(set(given)) == 15 * 3
    stored = {j.id: j for j in queue.jobs(limit=None)}
    assert set(stored) == set(given)
    for n, ids in outcomes.items():
        if n != 7:
            assert [stored[i].name for i in ids] == [f"c{n}-{i}" for i in range(3)]
            assert {stored[i].record.user for i in ids} == {f"user{n}"}


def test_a_transaction_that_fails_tells_every_caller_in_it(tmp_path: Path) -> None:
    queue = Queue(tmp_path / "q")
    commits = GroupCommit(queue.store)
    queue.store.db.close()
    (tmp_path / "q" / "jobs.db").unlink()          # the database is gone: nothing can be written
    with pytest.raises(QueueError):
        commits.submit(Submission([_spec(queue)], "alice", "host"))
    with pytest.raises(QueueError):                 # and the next caller is not left waiting
        commits.submit(Submission([_spec(queue)], "bob", "host"))
