"""What live views show changed: the ``changes`` row and the triggers that move it.

Every worker's heartbeat commits once a second, which moves ``PRAGMA data_version``; a view
that re-read on every commit would re-read once a second per worker for nothing. So triggers
count the writes views care about in one row, ``changes`` (a group member's hand-written UPDATE
counts too: a trigger sees every writer):

- ``n`` (v7) moves with every row written in the tables views show (``SHOWN_TABLES``) and with
  a worker's row unless the write is a heartbeat alone;
- each topic (v8, ``CHANGE_TOPICS``) moves with the writes one part of a view depends on, so
  that a change elsewhere does not make it read again: a sidebar at ten holds a second reads
  its history, its notifications' list and its schedules only when what they show changed.

Migrations are history: v7's text is frozen here as it shipped; v8 replaces its triggers.
"""
from __future__ import annotations

from ..model import TERMINAL

# The tables live views show (the job widget, the queue panel, the sidebar).
SHOWN_TABLES = ("jobs", "arrays", "resources", "settings", "schedules")
_EVENTS = ("INSERT", "UPDATE", "DELETE")

# topic -> what moves it; also a column of ``changes`` and a key of ``change_versions()``
CHANGE_TOPICS: dict[str, str] = {
    "ended": "a job entered or left a terminal state, or a finished job or array was written "
             "or removed (the history, finished arrays, end notifications)",
    "schedules": "a schedule, or a job a schedule submitted, was written (the schedules' rows "
                 "show their last run's state)",
}

_TERMINAL = ", ".join(f"'{state.value}'" for state in sorted(TERMINAL, key=lambda s: s.value))


def _bump(terms: dict[str, str] | None = None) -> str:
    sets = ["n = n + 1"] + [f"{topic} = {topic} + ({term})"
                            for topic, term in (terms or {}).items()]
    return f"UPDATE changes SET {', '.join(sets)} WHERE id = 1;"


def v7_triggers() -> str:
    """The v7 triggers (frozen: a migration's text never changes)."""
    bump = "UPDATE changes SET n = n + 1 WHERE id = 1;"
    triggers = [f"CREATE TRIGGER changes_{table}_{event.lower()} AFTER {event} ON {table}"
                f" BEGIN {bump} END;" for table in SHOWN_TABLES for event in _EVENTS]
    triggers += [f"CREATE TRIGGER changes_workers_{event.lower()} AFTER {event} ON workers"
                 f" BEGIN {bump} END;" for event in ("INSERT", "DELETE")]
    triggers.append("CREATE TRIGGER changes_workers_update AFTER UPDATE ON workers"
                    " WHEN NEW.heartbeat_at IS OLD.heartbeat_at OR NEW.state IS NOT OLD.state"
                    f" BEGIN {bump} END;")
    return "\n".join(triggers)


def _job_terms(row: str) -> dict[str, str]:
    return {"ended": f"{row}.state IN ({_TERMINAL})", "schedules": f"{row}.schedule IS NOT NULL"}


def _topic_terms(table: str, event: str) -> dict[str, str]:
    """How each topic moves with one row of ``table`` written by ``event``."""
    if table == "jobs":
        rows = {"INSERT": ["NEW"], "DELETE": ["OLD"], "UPDATE": ["OLD", "NEW"]}[event]
        terms = [_job_terms(row) for row in rows]
        return {topic: " OR ".join(t[topic] for t in terms) for topic in CHANGE_TOPICS}
    if table == "arrays" and event == "DELETE":
        return {"ended": "1"}          # a pruned array leaves the finished ones
    if table == "schedules":
        return {"schedules": "1"}
    return {}


def v8_migration() -> str:
    """Add the topics' columns and put triggers that move them in v7's place."""
    columns = [f"ALTER TABLE changes ADD COLUMN {topic} INTEGER NOT NULL DEFAULT 0;"
               for topic in CHANGE_TOPICS]
    drops = [f"DROP TRIGGER changes_{table}_{event.lower()};"
             for table in SHOWN_TABLES for event in _EVENTS]
    triggers = [f"CREATE TRIGGER changes_{table}_{event.lower()} AFTER {event} ON {table}"
                f" BEGIN {_bump(_topic_terms(table, event))} END;"
                for table in SHOWN_TABLES for event in _EVENTS]
    return "\n".join(columns + drops + triggers)


def versions_query() -> str:
    return f"SELECT n, {', '.join(CHANGE_TOPICS)} FROM changes WHERE id = 1"
