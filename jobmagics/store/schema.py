"""The queue database schema and its forward migrations (SQL lives only here and in store)."""
from __future__ import annotations

import sqlite3
from typing import Any

from ..errors import QueueError
from .changes import v7_triggers, v8_migration
from .rows import JOB_COLUMNS, job_columns

# Each entry migrates from version i to i+1; PRAGMA user_version records where a db stands.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        name TEXT,
        user TEXT NOT NULL,
        host TEXT NOT NULL,
        state TEXT NOT NULL,
        held INTEGER NOT NULL DEFAULT 0,
        priority INTEGER NOT NULL DEFAULT 0,
        resources TEXT NOT NULL DEFAULT '[]',
        cpus INTEGER NOT NULL DEFAULT 1,
        memory INTEGER,
        after TEXT NOT NULL DEFAULT '[]',
        timeout REAL,
        retries INTEGER NOT NULL DEFAULT 0,
        retry_delay REAL NOT NULL DEFAULT 1.0,
        attempt INTEGER NOT NULL DEFAULT 1,
        not_before REAL NOT NULL DEFAULT 0,
        submitted_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL,
        exit_code INTEGER,
        error TEXT,
        worker TEXT,
        pid INTEGER,
        pid_started REAL,
        progress REAL,
        stage TEXT,
        cancel_requested INTEGER NOT NULL DEFAULT 0,
        backend TEXT NOT NULL DEFAULT 'local',
        backend_id TEXT,
        cwd TEXT NOT NULL,
        env TEXT NOT NULL DEFAULT '{}',
        command TEXT,
        code TEXT,
        experiment TEXT,
        options TEXT NOT NULL DEFAULT '{}'
    );
    -- The claim path only ever looks at pending jobs; waiting ones stay out of this index.
    CREATE INDEX jobs_claim ON jobs(priority DESC, seq) WHERE state = 'pending';
    CREATE INDEX jobs_state ON jobs(state, seq);
    CREATE INDEX jobs_user ON jobs(user, seq);
    CREATE INDEX jobs_running ON jobs(worker) WHERE state = 'running';
    CREATE TABLE deps (
        child TEXT NOT NULL,
        parent TEXT NOT NULL,
        PRIMARY KEY (child, parent)
    ) WITHOUT ROWID;
    CREATE INDEX deps_parent ON deps(parent);
    CREATE TABLE payloads (job_id TEXT PRIMARY KEY, payload BLOB NOT NULL);
    CREATE TABLE results (job_id TEXT PRIMARY KEY, ok INTEGER NOT NULL, result BLOB NOT NULL);
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL,
        at REAL NOT NULL,
        state TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX events_job ON events(job_id, id);
    CREATE TABLE workers (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        pid_started REAL NOT NULL,
        user TEXT NOT NULL,
        started_at REAL NOT NULL,
        heartbeat_at REAL NOT NULL,
        slots INTEGER NOT NULL,
        memory INTEGER,
        resources TEXT NOT NULL DEFAULT '{}',
        only_user TEXT,
        state TEXT NOT NULL DEFAULT 'running'
    );
    CREATE TABLE resources (
        name TEXT PRIMARY KEY,
        capacity INTEGER NOT NULL DEFAULT 1,
        paused INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE counters (day TEXT PRIMARY KEY, n INTEGER NOT NULL);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO resources(name, capacity) VALUES ('hardware', 1);
    INSERT INTO settings(key, value) VALUES ('admins', '[]'), ('paused', '0');
    """,
    # v2: how many jobs each user has in each state, kept by triggers in the same transaction
    # as the change, whoever makes it (any jobmagics, an older one, the sqlite3 shell), so the
    # counts a listing shows ("... and 179,950 more pending") and stats cost a few rows, not a
    # scan of 1M jobs. Per (user, state): "mine" and --user are answered too; the totals are
    # sums over a lab's few users. (Rows a REPLACE deletes fire no DELETE trigger unless
    # recursive_triggers is on: jobmagics never REPLACEs jobs.)
    """
    CREATE TABLE state_counts (
        user TEXT NOT NULL,
        state TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (user, state)
    ) WITHOUT ROWID;
    INSERT INTO state_counts(user, state, n)
        SELECT user, state, count(*) FROM jobs GROUP BY user, state;
    CREATE TRIGGER state_counts_insert AFTER INSERT ON jobs BEGIN
        INSERT INTO state_counts(user, state, n) VALUES (NEW.user, NEW.state, 1)
            ON CONFLICT(user, state) DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER state_counts_delete AFTER DELETE ON jobs BEGIN
        UPDATE state_counts SET n = n - 1 WHERE user = OLD.user AND state = OLD.state;
    END;
    CREATE TRIGGER state_counts_update AFTER UPDATE OF state, user ON jobs
    WHEN NEW.state IS NOT OLD.state OR NEW.user IS NOT OLD.user BEGIN
        UPDATE state_counts SET n = n - 1 WHERE user = OLD.user AND state = OLD.state;
        INSERT INTO state_counts(user, state, n) VALUES (NEW.user, NEW.state, 1)
            ON CONFLICT(user, state) DO UPDATE SET n = n + 1;
    END;
    """,
    # v3: listings of one user ("mine", --user) cost the same at any size. jobs_user gains the
    # state: one user's jobs of some states, newest first, are a search per state that stops at
    # the page (it was a walk past all their newer jobs); jobs_user_claim is the claim order of
    # one user's pending jobs (their page of the queue, and a worker serving one user, no
    # longer walk past everyone else's pending jobs).
    """
    DROP INDEX jobs_user;
    CREATE INDEX jobs_user ON jobs(user, state, seq);
    CREATE INDEX jobs_user_claim ON jobs(user, priority DESC, seq) WHERE state = 'pending';
    """,
    # v4: jobs submitted since a time (the sidebar asks for my newest finished ones on every
    # change) are a range of this index, not a walk through all of one's jobs.
    """
    CREATE INDEX jobs_submitted ON jobs(submitted_at);
    """,
    # v5: job arrays. An element is a job that records its array and index; the array's row
    # keeps its size and throttle. jobs_array finds an array's elements by state (how many
    # hold a slot, the next waiting one by index) without touching other jobs; a page of its
    # elements by index is a range of jobs_array_index.
    """
    ALTER TABLE jobs ADD COLUMN array_id TEXT;
    ALTER TABLE jobs ADD COLUMN array_index INTEGER;
    CREATE INDEX jobs_array ON jobs(array_id, state, array_index) WHERE array_id IS NOT NULL;
    CREATE INDEX jobs_array_index ON jobs(array_id, array_index) WHERE array_id IS NOT NULL;
    CREATE TABLE arrays (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        host TEXT NOT NULL,
        name TEXT,
        kind TEXT NOT NULL,
        backend TEXT NOT NULL DEFAULT 'local',
        size INTEGER NOT NULL,
        parallel INTEGER,
        submitted_at REAL NOT NULL
    );
    """,
    # v6: running a lab's queue day to day. ``place``: a job's place in line among jobs of its
    # priority once a user moved it (NULL: its submission order, seq); the claim indexes order
    # by that (LINE, below), so a moved job is claimed where it was put. ``units``: the named
    # units of its resources an attempt holds (gpu 0 and 2). ``notify``/``notify_on``: where to
    # say that it ended; ``schedule``: the recurring schedule that submitted it. ``schedules``:
    # one row per named schedule, its next due time advanced in the transaction that submits
    # the run (exactly once per due time, whichever worker does it). ``outbox``: one row per
    # notification to send, written in the transaction that ends the job, sent and marked by a
    # worker (retried with backoff; a crash mid-send leaves it to be sent again).
    """
    ALTER TABLE jobs ADD COLUMN place REAL;
    ALTER TABLE jobs ADD COLUMN units TEXT;
    ALTER TABLE jobs ADD COLUMN notify TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE jobs ADD COLUMN notify_on TEXT NOT NULL DEFAULT 'end';
    ALTER TABLE jobs ADD COLUMN schedule TEXT;
    ALTER TABLE workers ADD COLUMN units TEXT NOT NULL DEFAULT '{}';
    DROP INDEX jobs_claim;
    CREATE INDEX jobs_claim ON jobs(priority DESC, ifnull(place, seq)) WHERE state = 'pending';
    DROP INDEX jobs_user_claim;
    CREATE INDEX jobs_user_claim ON jobs(user, priority DESC, ifnull(place, seq))
        WHERE state = 'pending';
    CREATE INDEX jobs_schedule ON jobs(schedule, seq) WHERE schedule IS NOT NULL;
    CREATE TABLE schedules (
        name TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        host TEXT NOT NULL,
        every REAL,
        cron TEXT,
        tz TEXT,
        overlap TEXT NOT NULL DEFAULT 'skip',
        submission TEXT NOT NULL,
        what TEXT NOT NULL DEFAULT '',
        paused INTEGER NOT NULL DEFAULT 0,
        next_at REAL NOT NULL,
        last_due REAL,
        last_job TEXT,
        last_note TEXT,
        created_at REAL NOT NULL
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        job_id TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        state TEXT NOT NULL,
        target TEXT NOT NULL,
        created_at REAL NOT NULL,
        tries INTEGER NOT NULL DEFAULT 0,
        next_try_at REAL NOT NULL,
        sending_by TEXT,
        sending_until REAL,
        sent_at REAL,
        failed_at REAL,
        last_error TEXT,
        UNIQUE (job_id, attempt, target)
    );
    CREATE INDEX outbox_due ON outbox(next_try_at) WHERE sent_at IS NULL AND failed_at IS NULL;
    CREATE INDEX outbox_job ON outbox(job_id);
    """,
    # v7: what live views show changed. Every worker's heartbeat commits once a second, which
    # moves PRAGMA data_version; a widget, a queue panel or a sidebar that re-read on every
    # commit re-read once a second per worker for nothing. ``changes.n`` moves with every row
    # written in the tables they show (a group member's hand-written UPDATE included), and with a
    # worker's row unless the write is a heartbeat alone.
    "CREATE TABLE changes (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);\n"
    "INSERT INTO changes(id, n) VALUES (1, 0);\n" + v7_triggers(),
    # v8: the parts of a view each move with their own topic (``store.changes.CHANGE_TOPICS``):
    # a hold or a release moves ``n`` but not ``ended``, so the history is not read again.
    v8_migration(),
]

SCHEMA_VERSION = len(MIGRATIONS)
COUNTS_VERSION = 2           # state_counts and its triggers
USER_INDEXES_VERSION = 3     # jobs_user (user, state, seq), jobs_user_claim
SUBMITTED_INDEX_VERSION = 4  # jobs_submitted
ARRAYS_VERSION = 5           # arrays, jobs.array_id/array_index
DAY_TO_DAY_VERSION = 6       # jobs.place/units/notify/notify_on/schedule, schedules, outbox
CHANGES_VERSION = 7          # changes.n: what live views show changed (not a heartbeat)
CHANGE_TOPICS_VERSION = 8    # changes.ended, changes.schedules: which part of a view changed
# A job's place in the claim order: priority first, then where it stands in line (its
# submission order unless a user moved it). The claim indexes are on this very expression.
LINE = "priority DESC, ifnull(place, seq)"


class SchemaAware:
    """For the store's mixins: what this queue's schema has. A queue with an older one is
    read as it is where it could not be migrated (a read-only filesystem), so what a newer
    version added (tables, indexes) is used only once it is there."""

    db: Any

    def _schema_has(self, version: int) -> bool:
        known = getattr(self, "_schema_known", 0)       # only ever grows: migrations go forward
        if known < version:
            known = self._schema_known = int(self.db.read("PRAGMA user_version")[0][0])
        return known >= version

    def _job_columns(self) -> str:
        """What a JobRecord reads: every column, or, from an older queue read as it is (not
        migrated), the columns it has and the declared defaults of those added since."""
        if self._schema_has(SCHEMA_VERSION):
            return JOB_COLUMNS
        return job_columns({row[1] for row in self.db.read("PRAGMA table_info(jobs)")})


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database up to ``SCHEMA_VERSION``; returns the version it found.

    Runs inside the caller's ``BEGIN IMMEDIATE`` so two processes opening a fresh queue at once
    cannot both create the tables, and each step (with the rows it fills in from the existing
    ones) is in that one transaction: a crash midway leaves the old version whole.
    """
    found: int = conn.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        raise QueueError(
            f"queue database is schema version {found},"
            f" newer than this jobmagics ({SCHEMA_VERSION}); upgrade jobmagics")
    for version in range(found, SCHEMA_VERSION):
        for statement in _statements(MIGRATIONS[version]):
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version + 1}")
    return found


def _statements(script: str) -> list[str]:
    parts, current = [], ""
    for line in script.splitlines():
        if line.strip().startswith("--"):
            continue
        current += line + "\n"
        if sqlite3.complete_statement(current):
            parts.append(current.strip())
            current = ""
    return [p for p in parts if p]
