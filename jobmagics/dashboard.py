"""The lab's dashboard as plain data: who holds each resource now, how many wait for it and
which job it runs next, whether it (or the whole queue) is paused, the workers and their
heartbeats, what runs next, and the warnings a lab should act on (pending jobs no live worker
can run). The sidebar's header (``GET /jobmagics/api/dashboard``) is this, as JSON.

Composed of the queue's reads (``Queue.stats`` and the store's ``dashboard_lines``), each of
which reads only active jobs through an index: the cost does not grow with the history."""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .checks import resource_counts

if TYPE_CHECKING:
    from .client import Queue

NEXT_SHOWN = 5
BRIEF = ("id", "name", "user")
RUNNING_SHOWN = ("id", "name", "user", "started_at", "progress")
DRAINING = "stopping"          # a worker's state while it finishes its jobs and takes no more


def dashboard(q: Queue) -> dict[str, Any]:
    """Everything the sidebar's header shows, read now (see the module's docstring)."""
    version = q.change_version()          # first: a change after it makes the sidebar look again
    stats = q.stats()
    lines = q.store.dashboard_lines(NEXT_SHOWN)
    paused = bool(stats["paused"])
    workers = _workers(stats["workers"], lines["running"], time.time())
    states = stats["states"]
    return {
        "version": version,
        "paused": paused,
        "may_pause": q.may_manage(),
        "resources": _resources(stats["resources"], lines),
        "queue": {"running": states["running"], "pending": states["pending"],
                  "waiting": states["waiting"], "next": [] if paused else lines["next"],
                  "stored": stats["total"]},
        "workers": workers,
        "warnings": warnings(workers, states["pending"], lines["resources"]),
    }


def _resources(known: Mapping[str, Mapping[str, Any]],
               lines: Mapping[str, Any]) -> list[dict[str, Any]]:
    waiting: Mapping[str, Mapping[str, Any]] = lines["resources"]
    shown = []
    for name in sorted(set(known) | set(waiting)):
        about = known.get(name, {"capacity": 0, "in_use": 0, "paused": False})
        line = waiting.get(name, {"pending": 0, "waiting": 0, "next": None})
        holders = [{k: job[k] for k in RUNNING_SHOWN} for job in lines["running"]
                   if name in resource_counts(job["resources"])]
        shown.append({"name": name, "capacity": about["capacity"], "in_use": about["in_use"],
                      "paused": bool(about["paused"]), "running": holders,
                      "waiting": line["pending"] + line["waiting"], "next": line["next"]})
    return shown


def _workers(records: Sequence[Mapping[str, Any]], running: Sequence[Mapping[str, Any]],
             now: float) -> list[dict[str, Any]]:
    in_use: dict[str, int] = {}
    for job in running:
        if job["backend"] == "local" and job["worker"]:
            in_use[job["worker"]] = in_use.get(job["worker"], 0) + int(job["cpus"])
    return [{"id": w["id"], "host": w["host"], "user": w["user"], "pid": w["pid"],
             "slots": w["slots"], "slots_in_use": in_use.get(w["id"], 0),
             "resources": dict(w["resources"]),
             "heartbeat_age": max(0.0, now - w["heartbeat_at"]), "alive": bool(w["alive"]),
             "draining": w["state"] == DRAINING} for w in records]


def warnings(workers: Sequence[Mapping[str, Any]], pending: int,
             lines: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What a lab should act on: pending jobs while no worker is alive, and pending jobs that
    need a resource no live worker offers (they wait until one that does starts)."""
    alive = [w for w in workers if w["alive"]]
    if not alive:
        return [f"No live worker: {_jobs(pending, 'wait')} for one"] if pending else []
    served = {name for w in alive for name in w["resources"]}
    return [f"No live worker serves {name}: {_jobs(line['pending'], 'need')} it"
            for name, line in sorted(lines.items()) if line["pending"] and name not in served]


def _jobs(n: int, verb: str) -> str:
    """'1 pending job needs', '3 pending jobs need'."""
    return f"{n} pending job {verb}s" if n == 1 else f"{n} pending jobs {verb}"
