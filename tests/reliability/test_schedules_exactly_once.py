"""Exactly once per due time (issue 12, item 2): with three real workers each running the
schedules chore, an ``every 2s`` schedule over about twenty ticks submits each due time once,
a worker SIGKILLed meanwhile changes nothing, and with every worker down across several due
times the first worker back submits one run for all of them, then keeps the rhythm."""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime

import jobmagics
from tests.conftest import WorkerProcess, wait_for

WORKER_ARGS = ("--slots", "2", "--no-kernel")
DUE_RE = re.compile(r"\(schedule (\S+), due (\S+)\)")
EVERY = 2.0


def runs_by_tick(queue: jobmagics.Queue, name: str, created: float) -> dict[int, list[str]]:
    """Tick k (the due time ``created + k * EVERY`` the submission event names, to the
    millisecond) -> the jobs submitted for it."""
    found: dict[int, list[str]] = {}
    for job in queue.get_schedule(name).runs(limit=None):
        assert job.record.schedule == name
        detail = queue.events(job.id)[0]["detail"]
        match = DUE_RE.search(detail)
        assert match, detail
        due = datetime.fromisoformat(match.group(2)).timestamp()
        tick = round((due - created) / EVERY)
        assert abs(created + tick * EVERY - due) < 0.002, (detail, created)
        found.setdefault(tick, []).append(job.id)
    return found


def test_three_workers_submit_every_due_time_exactly_once_even_when_one_is_killed(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    workers = [start_worker(*WORKER_ARGS) for _ in range(3)]
    schedule = queue.schedule("tick", every=EVERY, overlap="queue", command=["true"])
    created = schedule.last_read.created_at
    wait_for(lambda: len(schedule.runs(limit=None)) >= 8, timeout=60)
    workers[1].kill()                          # SIGKILL: mid-anything, its chore thread too
    wait_for(lambda: len(schedule.runs(limit=None)) >= 20, timeout=60)
    schedule.pause()
    by_tick = runs_by_tick(queue, "tick", created)
    twice = {tick: ids for tick, ids in by_tick.items() if len(ids) > 1}
    assert not twice, f"due times submitted more than once: {twice}"
    ticks = sorted(by_tick)
    assert ticks == list(range(1, len(ticks) + 1)), f"a due time was left out: {ticks}"
    late = [queue.get(by_tick[k][0]).record.submitted_at - (created + k * EVERY)
            for k in ticks]
    assert all(lateness >= 0 for lateness in late)


def test_with_every_worker_down_the_first_back_submits_one_run_then_keeps_the_rhythm(
        queue: jobmagics.Queue, start_worker: Callable[..., WorkerProcess]) -> None:
    schedule = queue.schedule("catch-up", every=EVERY, overlap="queue", command=["true"])
    created = schedule.last_read.created_at
    wait_for(lambda: time.time() > created + 3.5 * EVERY, timeout=30)   # 3 due times pass
    assert schedule.runs() == []
    start_worker(*WORKER_ARGS)
    first = wait_for(lambda: schedule.runs(limit=None), timeout=30)[0]   # type: ignore[index]
    note = schedule.refresh().last_read.last_note or ""
    missed = int(re.search(r"one run for (\d+) due times", note).group(1))  # type: ignore[union-attr]
    assert missed >= 3, note
    wait_for(lambda: len(schedule.runs(limit=None)) >= 4, timeout=30)
    schedule.pause()
    by_tick = runs_by_tick(queue, "catch-up", created)
    assert all(len(ids) == 1 for ids in by_tick.values()), by_tick
    ticks = sorted(by_tick)
    assert ticks[0] == 1 and by_tick[1] == [first.id]      # the catch-up: for the first missed
    after = ticks[1:]
    assert after[0] == missed + 1, (note, ticks)            # then the rhythm, from now on
    assert after == list(range(after[0], after[0] + len(after))), ticks
