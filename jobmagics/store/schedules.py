"""Recurring schedules: their rows, and submitting each due run exactly once (the run and the
schedule's next due time in one transaction).

A schedule's row holds what each run submits (``submission``: its steps, each a validated job
spec as JSON, a function's pickle as base64) and its next due time. ``fire_due`` takes the
write lock, re-reads the schedules that are due, submits each one's run through the ordinary
submission path (``JobsMixin._insert``: the run is an ordinary job, ``schedule`` set) and moves
``next_at`` past now, all in one ``BEGIN IMMEDIATE``: whichever worker gets the lock first
submits, the others find nothing due. A worker that was down across several due times
submits one run for all of them, and says so in the schedule's note."""
from __future__ import annotations

import base64
import dataclasses
import json
import sqlite3
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..errors import InvalidJob, JobmagicsError, PermissionDenied, ScheduleNotFound
from ..fields import declared_fields
from ..kinds import describe
from ..model import ACTIVE, JobOptions, JobSettings, JobSpec, State
from ..recurrence import Rhythm, ScheduleRecord, check_overlap, check_schedule_name, clock
from .db import Database
from .jobs import Submission
from .schema import DAY_TO_DAY_VERSION, SchemaAware

ACTIONS = ("pause", "resume", "remove", "run-now")
_SPEC_FIELDS = tuple(f.name for f in declared_fields(JobSettings))
_COLUMNS = ("s.name, s.user, s.host, s.every, s.cron, s.tz, s.overlap, s.what,"
            " json_array_length(s.submission) AS steps, s.paused, s.next_at, s.created_at,"
            " s.last_due, s.last_job, j.state AS last_state, s.last_note")
_SELECT = f"SELECT {_COLUMNS} FROM schedules s LEFT JOIN jobs j ON j.id = s.last_job"


@dataclasses.dataclass(frozen=True)
class Fired:
    """What one due tick of a schedule did: the jobs it submitted (none: skipped or refused)."""

    name: str
    due: float
    job_ids: list[str]
    note: str


def steps_to_json(specs: Sequence[JobSpec]) -> str:
    """The steps of a run as stored: each validated spec's fields (its payload as base64)."""
    steps = []
    for spec in specs:
        step = {name: getattr(spec, name) for name in _SPEC_FIELDS}
        step["options"] = spec.options.to_json()
        step["payload"] = (None if spec.payload is None
                           else base64.b64encode(spec.payload).decode("ascii"))
        steps.append(step)
    return json.dumps(steps, separators=(",", ":"))


def steps_from_json(text: str) -> list[JobSpec]:
    specs = []
    for step in json.loads(text):
        fields = {name: step[name] for name in _SPEC_FIELDS if name in step}
        fields["options"] = JobOptions.of(fields.get("options"))
        payload = step.get("payload")
        specs.append(JobSpec(**fields, payload=None if payload is None
                             else base64.b64decode(payload)))
    return specs


def _record(row: sqlite3.Row) -> ScheduleRecord:
    data = dict(row)
    data["paused"] = bool(data["paused"])
    return ScheduleRecord(**data)


class SchedulesMixin(SchemaAware):
    """The schedules table; needs ``self.db`` and the jobs mixin's ``_insert``."""

    db: Database

    # ---- making and reading ------------------------------------------------------------
    def add_schedule(self, name: str, user: str, host: str, rhythm: Rhythm, overlap: str,
                     specs: Sequence[JobSpec]) -> ScheduleRecord:
        """A new schedule whose runs submit ``specs`` (validated specs; several: a chain, each
        after the one before). Its first run is submitted as a trial and rolled back, so what
        a submission would refuse (an unknown resource, a missing parent) is refused now,
        with nothing stored."""
        check_schedule_name(name)
        rhythm = Rhythm.of(rhythm.every, rhythm.cron, rhythm.tz)
        check_overlap(overlap)
        if not specs:
            raise InvalidJob("a schedule runs at least one job")
        now = time.time()
        what = "\n".join(describe(spec, 200) for spec in specs)
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM schedules WHERE name = ?", (name,)).fetchone():
                raise InvalidJob(f"a schedule named {name!r} exists already (jobmagics schedule"
                                 " remove it first, or choose another name)")
            conn.execute("SAVEPOINT trial")
            try:
                self._submit_steps(conn, list(specs), user, host, now)
            finally:
                conn.execute("ROLLBACK TO trial")
                conn.execute("RELEASE trial")
            conn.execute(
                "INSERT INTO schedules(name, user, host, every, cron, tz, overlap, submission,"
                " what, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, user, host, rhythm.every, rhythm.cron, rhythm.tz, overlap,
                 steps_to_json(specs), what, rhythm.next_after(now, now), now))
        return self.schedule(name)

    def schedule(self, name: str) -> ScheduleRecord:
        rows = self.db.read(f"{_SELECT} WHERE s.name = ?", (name,)) \
            if self._schema_has(DAY_TO_DAY_VERSION) else []
        if not rows:
            raise ScheduleNotFound(str(name))
        return _record(rows[0])

    def schedules(self, user: str | None = None) -> list[ScheduleRecord]:
        """Every schedule (of ``user``), by name."""
        if not self._schema_has(DAY_TO_DAY_VERSION):
            return []
        where, params = ("WHERE s.user = ?", (user,)) if user else ("", ())
        return [_record(r) for r in self.db.read(f"{_SELECT} {where} ORDER BY s.name", params)]

    def schedule_runs(self, name: str, limit: int | None = 50) -> list[str]:
        """The ids of the jobs schedule ``name`` submitted, newest first."""
        self.schedule(name)
        rows = self.db.read("SELECT id FROM jobs INDEXED BY jobs_schedule WHERE schedule = ?"
                            " ORDER BY seq DESC LIMIT ?", (name, -1 if limit is None else limit))
        return [r[0] for r in rows]

    def next_schedule_due(self) -> float | None:
        """The earliest due time of the schedules not paused (None: there are none)."""
        if not self._schema_has(DAY_TO_DAY_VERSION):
            return None
        found = self.db.read("SELECT min(next_at) FROM schedules WHERE paused = 0")[0][0]
        return None if found is None else float(found)

    # ---- a user's verbs ----------------------------------------------------------------
    def act_on_schedules(self, action: str, names: Sequence[str], actor: str, *,
                         manager: bool = False) -> list[tuple[str, list[str]]]:
        """``pause``, ``resume``, ``remove`` or ``run-now`` every schedule named, or none: each
        is checked (it exists, ``actor`` owns it or is an admin, or ``manager``) before any is
        acted on, in one transaction. Returns each name with the jobs it submitted (run-now)."""
        if action not in ACTIONS:
            raise InvalidJob(f"unknown schedule action {action!r}; actions are"
                             f" {', '.join(ACTIONS)}")
        if not names:
            raise InvalidJob(f"name at least one schedule to {action}")
        now = time.time()
        with self.db.write() as conn:
            rows = [self._row(conn, name) for name in dict.fromkeys(names)]
            strangers = [r for r in rows if r["user"] != actor]
            if strangers and not manager and actor not in _admins(conn):
                raise PermissionDenied(
                    f"{actor} may not {action} the schedule {strangers[0]['name']!r}: it belongs"
                    f" to {strangers[0]['user']} (only its owner or a queue admin may)")
            return [(row["name"], self._act(conn, action, row, actor, now)) for row in rows]

    @staticmethod
    def _row(conn: sqlite3.Connection, name: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM schedules WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise ScheduleNotFound(str(name))
        return row  # type: ignore[no-any-return]

    def _act(self, conn: sqlite3.Connection, action: str, row: sqlite3.Row, actor: str,
             now: float) -> list[str]:
        name = row["name"]
        if action == "remove":
            conn.execute("DELETE FROM schedules WHERE name = ?", (name,))
        elif action == "pause":
            conn.execute("UPDATE schedules SET paused = 1, last_note = ? WHERE name = ?",
                         (f"paused by {actor}", name))
        elif action == "resume":     # the next due time after now: a pause skips what it spanned
            rhythm = Rhythm(row["every"], row["cron"], row["tz"])
            conn.execute("UPDATE schedules SET paused = 0, next_at = ?, last_note = ?"
                         " WHERE name = ?",
                         (rhythm.next_after(row["created_at"], now), f"resumed by {actor}", name))
        else:
            ids = self._submit_run(conn, row, now, f"run now by {actor}")
            conn.execute("UPDATE schedules SET last_job = ?, last_note = ? WHERE name = ?",
                         (ids[-1], f"run now by {actor} at {clock(now)}: {ids[-1]}", name))
            return ids
        return []

    # ---- the workers' chore ------------------------------------------------------------
    def fire_due(self, now: float | None = None) -> list[Fired]:
        """Submit the run of every schedule due now (not paused) and move each one's next due
        time past now, in ONE transaction (see the module's text)."""
        due_at = self.next_schedule_due()
        if due_at is None or due_at > (now or time.time()):
            return []                    # the common case: a read, no write lock
        with self.db.write() as conn:
            now = time.time() if now is None else now
            rows = conn.execute("SELECT * FROM schedules WHERE paused = 0 AND next_at <= ?"
                                " ORDER BY next_at", (now,)).fetchall()
            return [self._fire(conn, row, now) for row in rows]

    def _fire(self, conn: sqlite3.Connection, row: sqlite3.Row, now: float) -> Fired:
        rhythm = Rhythm(row["every"], row["cron"], row["tz"])
        due, name = float(row["next_at"]), row["name"]
        at = clock(due, row["tz"])
        missed = rhythm.missed(due, now)
        busy = _still_going(conn, row["last_job"]) if row["overlap"] == "skip" else None
        ids: list[str] = []
        if busy is not None:
            note = f"skipped {at}: {row['last_job']} still {busy}"
        else:
            conn.execute("SAVEPOINT run")
            try:
                ids = self._submit_run(conn, row, now, f"due {_iso(due)}")
                note = f"{at}: {ids[-1]}"
            except JobmagicsError as exc:     # (a resource removed since): said, not retried
                conn.execute("ROLLBACK TO run")
                note = f"{at}: not submitted: {exc}"
            conn.execute("RELEASE run")
        if missed > 1:
            note += (f" (one run for {missed} due times since {at}: no worker was running"
                     " the schedules then)")
        conn.execute("UPDATE schedules SET next_at = ?, last_due = ?,"
                     " last_job = coalesce(?, last_job), last_note = ? WHERE name = ?",
                     (rhythm.next_after(row["created_at"], now), due,
                      ids[-1] if ids else None, note, name))
        return Fired(name, due, ids, note)

    def _submit_run(self, conn: sqlite3.Connection, row: sqlite3.Row, now: float,
                    why: str) -> list[str]:
        """The steps of one run, as the schedule's owner, ``schedule`` set on each job and
        ``why`` (the due time, or who ran it now) in its submission event."""
        ids = self._submit_steps(conn, steps_from_json(row["submission"]), row["user"],
                                 row["host"], now)
        detail = f" (schedule {row['name']}, {why})"
        conn.executemany("UPDATE jobs SET schedule = ? WHERE id = ?",
                         [(row["name"], job_id) for job_id in ids])
        conn.executemany("UPDATE events SET detail = detail || ? WHERE job_id = ?",
                         [(detail, job_id) for job_id in ids])
        return ids

    def _submit_steps(self, conn: sqlite3.Connection, specs: list[JobSpec], user: str,
                      host: str, now: float) -> list[str]:
        """Each step through the ordinary submission path; a step after the first runs after
        the one before it (the chain's ids exist only now)."""
        ids: list[str] = []
        for spec in specs:
            if ids:
                spec = dataclasses.replace(spec, after=[*spec.after, ids[-1]])
            ids.extend(self._insert(conn, Submission([spec], user, host, [spec.payload]), now))
        return ids

    _insert: Any      # JobsMixin's (the Store has both)


def _admins(conn: sqlite3.Connection) -> list[str]:
    row = conn.execute("SELECT value FROM settings WHERE key = 'admins'").fetchone()
    return list(json.loads(row[0])) if row else []


def _still_going(conn: sqlite3.Connection, job_id: str | None) -> str | None:
    """The state of the previous run's last job if it has not ended (skip this tick), else
    None (a removed job has ended too)."""
    if job_id is None:
        return None
    row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return row[0] if row is not None and State(row[0]) in ACTIVE else None


def _iso(moment: float) -> str:
    """A due time in a job's event: local time to the millisecond, with its offset."""
    return datetime.fromtimestamp(moment).astimezone().isoformat(timespec="milliseconds")
