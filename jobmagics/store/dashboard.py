"""The reads behind the lab's dashboard (the sidebar's header): the running jobs, and for each
resource how many jobs wait for it and which one it runs next; the next jobs of the whole line.

Every query reads only the active jobs through an index (``jobs_state`` or the claim index
``jobs_claim``), so it costs the same with 1,000,000 finished jobs behind them. "Next" is the
claim's own order (``schema.LINE`` over the claim index) with the claim's own reading of a
resource request (``dispatch._NAME``); jobs that need a paused resource are passed over, as
the claim passes over them. Answers are plain JSON (the service sends them as they are)."""
from __future__ import annotations

import json
from typing import Any

from ..model import State
from .db import Database
from .dispatch import _NAME
from .schema import DAY_TO_DAY_VERSION, LINE, SchemaAware

_RUNNING, _PENDING, _WAITING = (f"'{s.value}'" for s in (State.RUNNING, State.PENDING,
                                                       State.WAITING))
_RUNNING_SQL = ("SELECT id, name, user, started_at, progress, resources, worker, cpus, backend"
                f" FROM jobs WHERE state = {_RUNNING} ORDER BY started_at")
# Jobs waiting for each resource, per state (pending: claimable now; waiting: held or blocked).
_WAITING_SQL = (f"SELECT {_NAME} AS resource, jobs.state AS state, count(*) AS n"
                " FROM jobs, json_each(jobs.resources) AS r"
                f" WHERE jobs.state IN ({_PENDING}, {_WAITING}) AND jobs.resources <> '[]'"
                " GROUP BY 1, 2")
_NEEDS = f"SELECT 1 FROM json_each(jobs.resources) AS r WHERE {_NAME} = :resource"
_NEEDS_PAUSED = (f"SELECT 1 FROM json_each(jobs.resources) AS r JOIN resources AS p"
                 f" ON p.name = {_NAME} WHERE p.paused = 1")
# The claim index: its partial WHERE takes the literal state (see dispatch._CLAIM_SQL).
_LINE_SQL = ("SELECT id, name, user, priority, resources FROM jobs {index}"
             f" WHERE state = {_PENDING} AND {{condition}} ORDER BY {{line}} LIMIT :limit")


class DashboardMixin(SchemaAware):
    """The dashboard's reads; needs only ``self.db``."""

    db: Database

    def dashboard_lines(self, limit: int = 5) -> dict[str, Any]:
        """``running``: every running job (id, name, user, started_at, progress, resources,
        worker, cpus, backend); ``resources``: per resource name, its ``pending`` and
        ``waiting`` jobs and the ``next`` it would run (id, name, user, or None); ``next``: the
        first ``limit`` pending jobs in claim order that need no paused resource (id, name,
        user, priority, resources)."""
        running = [dict(r) | {"resources": _names(r["resources"])}
                   for r in self.db.read(_RUNNING_SQL)]
        per_resource: dict[str, dict[str, Any]] = {
            row[0]: {"pending": 0, "waiting": 0, "next": None}
            for row in self.db.read("SELECT name FROM resources ORDER BY name")}
        for row in self.db.read(_WAITING_SQL):
            counts = per_resource.setdefault(row["resource"],
                                             {"pending": 0, "waiting": 0, "next": None})
            counts[row["state"]] = row["n"]
        for name, entry in per_resource.items():
            if entry["pending"]:
                found = self._line(f"EXISTS ({_NEEDS})", 1, resource=name)
                entry["next"] = {k: found[0][k] for k in ("id", "name", "user")} if found else None
        return {"running": running, "resources": per_resource,
                "next": self._line(f"NOT EXISTS ({_NEEDS_PAUSED})", limit)}

    def _line(self, condition: str, limit: int, **params: Any) -> list[dict[str, Any]]:
        placed = self._schema_has(DAY_TO_DAY_VERSION)   # older queues: no places, no such index
        sql = _LINE_SQL.format(index="INDEXED BY jobs_claim" if placed else "",
                               condition=condition,
                               line=LINE if placed else "priority DESC, seq")
        rows = self.db.read(sql, {"limit": limit, **params})
        return [dict(r) | {"resources": _names(r["resources"])} for r in rows]


def _names(stored: str) -> list[str]:
    return list(json.loads(stored or "[]"))
