"""Listings scale: the queue comes a page at a time, in start order, with how many more there
are (issue 8, item 7). Timing lives in bench/bench_core.py; here, order, counts and plans."""
from __future__ import annotations

import time

import jobmagics
from jobmagics.store.jobs import active_page_sql, counts_sql


def claim_one(queue: jobmagics.Queue, job: jobmagics.Job) -> None:
    with queue.store.db.write() as conn:       # as a worker's claim does, without a worker
        conn.execute("UPDATE jobs SET state = 'running', worker = 'gone', started_at = ? WHERE id = ?",
                     (time.time(), job.id))


def test_the_queue_is_running_then_pending_in_start_order_then_waiting(queue: jobmagics.Queue) -> None:
    held = queue.submit(command=["true"], hold=True, priority=9)
    low = queue.submit(command=["true"])
    high = queue.submit(command=["true"], priority=5)
    later_low = queue.submit(command=["true"])
    running = queue.submit(command=["true"])
    claim_one(queue, running)
    page = queue.queue()
    assert [j.id for j in page] == [running.id, high.id, low.id, later_low.id, held.id]
    assert page.counts == {"running": 1, "pending": 3, "waiting": 1} and page.total == 5 and page.more == 0


def test_a_page_says_how_many_more_of_each_state_follow(queue: jobmagics.Queue) -> None:
    queue.submit_many([{"command": ["true"]}] * 7 + [{"command": ["true"], "hold": True}] * 3)
    page = queue.queue(limit=4)
    assert len(page) == 4 and page.total == 10 and page.more == 6
    assert page.more_by_state() == {"pending": 3, "waiting": 3}
    rest = queue.queue(limit=4, offset=8)
    assert [j.state for j in rest] == ["waiting", "waiting"] and rest.more == 0
    assert [j.id for j in queue.queue(limit=None)] == [j.id for j in queue.queue(limit=4)] + \
        [j.id for j in queue.queue(limit=4, offset=4)] + [j.id for j in rest]
    assert queue.queue(limit=0).counts == {"running": 0, "pending": 7, "waiting": 3}


def test_the_queue_of_one_user(queue: jobmagics.Queue) -> None:
    mine = queue.submit(command=["true"])
    theirs = queue.submit(command=["true"])
    with queue.store.db.write() as conn:
        conn.execute("UPDATE jobs SET user = 'somebody-else' WHERE id = ?", (theirs.id,))
    page = queue.queue(user=queue.user)
    assert [j.id for j in page] == [mine.id] and page.total == 1


def plan(queue: jobmagics.Queue, sql: str, params: dict[str, object] | tuple[object, ...] = ()) -> list[str]:
    return [r[3] for r in queue.store.db.read(f"EXPLAIN QUERY PLAN {sql}", params)]


def test_the_first_page_and_its_counts_are_read_from_indexes_only(queue: jobmagics.Queue) -> None:
    """No scan of the jobs table and no sort of all pending jobs: the cost of the first page does
    not grow with the queue (measured at 1M stored / 200k pending in make bench)."""
    page = {"depth": 50, "limit": 50, "offset": 0, "user": "me"}
    everyone = plan(queue, active_page_sql(False), page)
    assert "SCAN jobs USING INDEX jobs_claim" in everyone            # pending: in claim order, no sort
    assert everyone.count("SEARCH jobs USING INDEX jobs_state (state=?)") == 2   # running, waiting
    mine = plan(queue, active_page_sql(True), page)
    assert "SEARCH jobs USING INDEX jobs_user_claim (user=?)" in mine   # their pending, in claim order
    assert mine.count("SEARCH jobs USING INDEX jobs_user (user=? AND state=?)") == 2
    for steps in (everyone, mine):
        assert not [step for step in steps if step.startswith("SCAN jobs") and "INDEX" not in step]
    for where in ("WHERE state IN ('running', 'pending', 'waiting')", "WHERE state = 'pending' AND user = 'me'"):
        reads = [s for s in plan(queue, counts_sql(where, counted=True)) if s.startswith(("SCAN", "SEARCH"))]
        assert reads and all(" state_counts" in step for step in reads)   # kept counts, never a count of jobs


def test_one_users_jobs_are_a_search_per_state_not_a_walk_through_all_of_theirs(queue: jobmagics.Queue) -> None:
    """``jobs(user=...)`` and their history: the newest of each state from jobs_user (user, state,
    seq), so a user's 200,000 pending jobs are not walked past to find their finished ones."""
    statements: list[str] = []
    queue.store.db.connection().set_trace_callback(statements.append)
    try:
        queue.jobs(user="me", limit=50)
        queue.history(user="me", limit=50)
    finally:
        queue.store.db.connection().set_trace_callback(None)
    reads = [s for s in statements if s.startswith("SELECT")]
    assert len(reads) == 2
    for statement in reads:
        assert plan(queue, statement)[0] == "SEARCH jobs USING INDEX jobs_user (user=? AND state=?)", statement


def test_jobs_submitted_since_a_time_are_a_range_of_an_index(queue: jobmagics.Queue) -> None:
    """What the sidebar asks on every change (my newest finished jobs since the page opened):
    a range of jobs_submitted, not a walk through all of one's finished jobs."""
    old = queue.submit_many([{"command": ["true"]}] * 3)
    since = time.time()
    new = queue.submit_many([{"command": ["true"]}] * 2)
    finished = ["completed", "failed", "cancelled", "timeout"]
    for job in (old[0], new[0]):
        queue.cancel(job.id)
    statements: list[str] = []
    queue.store.db.connection().set_trace_callback(statements.append)
    try:
        listed = queue.jobs(state=finished, user=queue.user, since=since, limit=20)
        total = queue.count(state=finished, user=queue.user, since=since)
    finally:
        queue.store.db.connection().set_trace_callback(None)
    assert [j.id for j in listed] == [new[0].id] and total == 1
    assert [j.id for j in queue.jobs(since=since)] == [new[1].id, new[0].id] and queue.count(since=since) == 2
    reads = [s for s in statements if s.startswith("SELECT")]
    assert len(reads) == 2
    for statement in reads:
        assert plan(queue, statement)[0] == "SEARCH jobs USING INDEX jobs_submitted (submitted_at>?)", statement


def test_a_listing_reads_the_database_once_not_once_per_job(queue: jobmagics.Queue) -> None:
    """The CLI table and the HTML view show the listing's own reading of each job (it was 3
    reads per row: 26 s for 180,000 pending jobs)."""
    from jobmagics.cli.tables import jobs_table
    from jobmagics.display import jobs_table_html
    queue.submit_many([{"command": ["true"]}] * 20)
    page = queue.queue()
    statements: list[str] = []
    queue.store.db.connection().set_trace_callback(statements.append)
    try:
        jobs_table(page)
        jobs_table_html(page)
        [job.to_dict() for job in page]
    finally:
        queue.store.db.connection().set_trace_callback(None)
    assert statements == []
