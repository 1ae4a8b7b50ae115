"""``change_version`` moves with what live views show and not with a worker's heartbeat: a
kernel with widgets, or a browser with the sidebar, must not re-read once a second per worker."""
from __future__ import annotations

import sqlite3

from tests.conftest import wait_for


def test_a_heartbeat_moves_the_data_version_but_not_the_change_version(queue, worker) -> None:
    wait_for(lambda: queue.workers())
    seen = queue.change_version(), queue.data_version()
    wait_for(lambda: queue.data_version() != seen[1], timeout=10)   # the next heartbeat
    assert queue.change_version() == seen[0]


def test_a_job_that_runs_and_ends_moves_the_change_version(queue, worker) -> None:
    before = queue.change_version()
    job = queue.submit(["true"])
    assert queue.change_version() > before
    after_submit = queue.change_version()
    job.wait(30)
    assert queue.change_version() > after_submit


def test_a_hand_written_update_of_a_job_moves_the_change_version(queue) -> None:
    job = queue.submit(["true"], hold=True)
    before = queue.change_version()
    with sqlite3.connect(queue.layout.db) as conn:
        conn.execute("UPDATE jobs SET priority = 7 WHERE id = ?", (job.id,))
    assert queue.change_version() > before


def test_a_worker_that_registers_or_drains_moves_the_change_version(queue) -> None:
    before = queue.change_version()
    with sqlite3.connect(queue.layout.db) as conn:
        conn.execute("INSERT INTO workers(id, host, pid, pid_started, user, started_at,"
                     " heartbeat_at, slots) VALUES ('w1', 'h', 1, 0, 'u', 0, 0, 1)")
    registered = queue.change_version()
    assert registered > before
    with sqlite3.connect(queue.layout.db) as conn:
        conn.execute("UPDATE workers SET heartbeat_at = 9, state = 'running' WHERE id = 'w1'")
    assert queue.change_version() == registered
    with sqlite3.connect(queue.layout.db) as conn:
        conn.execute("UPDATE workers SET heartbeat_at = 10, state = 'draining' WHERE id = 'w1'")
    assert queue.change_version() > registered



def topics_moved(queue, act) -> set[str]:
    before = queue.change_versions()
    act()
    after = queue.change_versions()
    return {topic for topic in after if after[topic] != before[topic]}


def test_a_hold_or_a_release_moves_no_topic_but_an_ending_moves_ended(queue) -> None:
    job = queue.submit(["true"])
    assert topics_moved(queue, lambda: queue.hold(job.id)) == {"n"}
    assert topics_moved(queue, lambda: queue.release(job.id)) == {"n"}
    assert topics_moved(queue, lambda: queue.cancel(job.id)) == {"n", "ended"}
    assert topics_moved(queue, lambda: queue.retry(job.id)) == {"n", "ended"}   # left the history
    assert topics_moved(queue, lambda: queue.cancel(job.id)) == {"n", "ended"}
    assert topics_moved(queue, lambda: queue.delete(job.id)) == {"n", "ended"}


def test_a_hand_written_update_of_a_finished_job_moves_ended(queue) -> None:
    job = queue.submit(["true"])
    queue.cancel(job.id)
    with sqlite3.connect(queue.layout.db) as conn:
        def write() -> None:
            conn.execute("UPDATE jobs SET error = 'edited by hand' WHERE id = ?", (job.id,))
            conn.commit()
        assert topics_moved(queue, write) == {"n", "ended"}


def test_a_schedule_and_the_jobs_it_submitted_move_schedules(queue) -> None:
    other = queue.submit(["true"], hold=True)
    schedule = queue.schedule("tick", every="1h", command=["true"])
    assert "schedules" in topics_moved(queue, lambda: schedule.pause())
    assert "schedules" in topics_moved(queue, lambda: schedule.resume())
    assert "schedules" in topics_moved(queue, lambda: schedule.run_now())
    run = schedule.runs()[0]
    assert topics_moved(queue, lambda: queue.cancel(run.id)) == {"n", "ended", "schedules"}
    assert topics_moved(queue, lambda: queue.release(other.id)) == {"n"}
