"""The notifications outbox: rows written when a job ends (``lifecycle.post_notifications``),
taken, sent and marked by workers; and the queue's declared settings (``queue_settings``:
the SMTP server), kept in the ``settings`` table under their dotted names.

A worker takes due rows in one transaction (a lease: ``sending_by``, ``sending_until``),
sends outside it, then marks each sent, or failed with its next try (exponential backoff), or
given up. A worker that dies mid-send leaves its lease to expire (at once when it is no
longer alive, ``LEASE_S``), and another worker sends the row again: at least once."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import fields
from typing import Any

from ..errors import InvalidJob
from ..messages import Notification
from ..model import JobRecord
from ..queue_settings import BY_NAME
from ..runtime import LEASE_S
from .rows import JOB_COLUMNS, job_from_row
from .schema import DAY_TO_DAY_VERSION, SchemaAware

SEND_LEASE_S = 300.0        # a live worker's send never takes this long (timeouts of 10-30 s)
FIRST_RETRY_S = 10.0        # then 20, 40, ... up to MAX_RETRY_S
MAX_RETRY_S = 3600.0
GIVE_UP_S = 24 * 3600.0     # a notification still not sent a day after the job ended fails
MAX_TRIES = 30

_COLUMNS = ", ".join(f.name for f in fields(Notification))
_OPEN = "sent_at IS NULL AND failed_at IS NULL"
# due, and nobody holds it: never taken, or its lease ran out, or its taker is no longer alive
_TAKE_SQL = f"""
    UPDATE outbox SET sending_by = ?, sending_until = ?, tries = tries + 1,
        last_error = CASE WHEN sending_by IS NULL THEN last_error
                          ELSE 'worker ' || sending_by || ' stopped while sending it' END
    WHERE id IN (
        SELECT id FROM outbox WHERE {_OPEN} AND next_try_at <= ?
          AND (sending_by IS NULL OR sending_until < ?
               OR NOT EXISTS (SELECT 1 FROM workers WHERE workers.id = outbox.sending_by
                              AND workers.heartbeat_at >= ?))
        ORDER BY next_try_at LIMIT ?)
    RETURNING {_COLUMNS}"""
# when an open row can next be taken: when due, or when its holder's lease ends (at once when
# the holder stopped heartbeating)
_NEXT_SQL = f"""
    SELECT min(CASE WHEN sending_until > ?
                    THEN min(sending_until, coalesce((SELECT heartbeat_at FROM workers
                                                      WHERE workers.id = outbox.sending_by), 0) + ?)
                    ELSE next_try_at END)
    FROM outbox WHERE {_OPEN}"""


def notification_from_row(row: sqlite3.Row) -> Notification:
    return Notification(*row)


def retry_delay(tries: int) -> float:
    """Seconds before the next try after ``tries`` failed ones: 10 s doubling, at most 1 h."""
    return float(min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** max(0, tries - 1)))


class OutboxMixin(SchemaAware):
    """The outbox's reads and writes, and the declared queue settings."""

    # ---- the sender's side ------------------------------------------------------------
    def take_notifications(self, worker_id: str, now: float,
                           limit: int = 16) -> list[tuple[Notification, JobRecord | None]]:
        """Lease up to ``limit`` due notifications to ``worker_id``, each with its job as it
        is now (None: the job was deleted since)."""
        if not self._schema_has(DAY_TO_DAY_VERSION):
            return []
        with self.db.write() as conn:
            taken = [notification_from_row(r) for r in conn.execute(
                _TAKE_SQL, (worker_id, now + SEND_LEASE_S, now, now, now - LEASE_S, limit))]
            if not taken:
                return []
            ids = sorted({n.job_id for n in taken})
            rows = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id IN"
                                f" ({', '.join('?' * len(ids))})", ids).fetchall()
        jobs = {job.id: job for job in map(job_from_row, rows)}
        return [(n, jobs.get(n.job_id)) for n in sorted(taken, key=lambda n: n.id)]

    def notification_sent(self, notification_id: int, worker_id: str, now: float) -> None:
        """Sent: kept with who sent it, never taken again."""
        with self.db.write() as conn:
            conn.execute("UPDATE outbox SET sent_at = ?, sending_by = ?, sending_until = NULL,"
                         " failed_at = NULL WHERE id = ? AND sent_at IS NULL",
                         (now, worker_id, notification_id))

    def notification_failed(self, notification_id: int, worker_id: str, error: str,
                            now: float, *, permanent: bool = False) -> None:
        """This try failed: try again after the backoff, or give up (``permanent``: trying
        again cannot help; or tried for GIVE_UP_S or MAX_TRIES)."""
        with self.db.write() as conn:
            row = conn.execute("SELECT tries, created_at FROM outbox WHERE id = ? AND"
                               f" {_OPEN} AND sending_by = ?",
                               (notification_id, worker_id)).fetchone()
            if row is None:               # sent or taken by another worker meanwhile
                return
            tries, created_at = int(row[0]), float(row[1])
            give_up = permanent or tries >= MAX_TRIES or now - created_at >= GIVE_UP_S
            conn.execute("UPDATE outbox SET sending_by = NULL, sending_until = NULL,"
                         " last_error = ?, next_try_at = ?, failed_at = ? WHERE id = ?",
                         (error[:1000], now + retry_delay(tries), now if give_up else None,
                          notification_id))

    def next_notification_at(self, now: float) -> float | None:
        """When the next open notification is due (a held one: when its lease ends)."""
        if not self._schema_has(DAY_TO_DAY_VERSION):
            return None
        rows = self.db.read(_NEXT_SQL, (now, LEASE_S))
        return None if rows[0][0] is None else float(rows[0][0])

    # ---- what users see ---------------------------------------------------------------
    def notifications(self, job_id: str) -> list[Notification]:
        """A job's notifications, every attempt's, in the order they were posted."""
        if not self._schema_has(DAY_TO_DAY_VERSION):
            return []
        rows = self.db.read(f"SELECT {_COLUMNS} FROM outbox WHERE job_id = ? ORDER BY id",
                            (job_id,))
        return [notification_from_row(r) for r in rows]

    # ---- the declared queue settings (``queue_settings``) -----------------------------
    def queue_settings(self) -> dict[str, Any]:
        """The declared settings an admin set (the others are at their defaults)."""
        names = list(BY_NAME)
        rows = self.db.read(f"SELECT key, value FROM settings WHERE key IN"
                            f" ({', '.join('?' * len(names))})", tuple(names))
        return {str(key): json.loads(value) for key, value in rows}

    def set_queue_setting(self, name: str, value: Any) -> None:
        """Set a declared setting (already parsed and checked), or unset it (None). Only the
        declared names: the internal ones (admins, paused, ...) have their own methods."""
        if name not in BY_NAME:
            raise InvalidJob(f"unknown queue setting {name!r}; settings are"
                             f" {', '.join(BY_NAME)}")
        with self.db.write() as conn:
            if value is None:
                conn.execute("DELETE FROM settings WHERE key = ?", (name,))
            else:
                conn.execute("INSERT OR REPLACE INTO settings(key, value) VALUES (?, ?)",
                             (name, json.dumps(value)))
