"""The store a client of a system queue holds: the same methods as ``Store``, each a request
to the queue's service over its socket. ``Queue``, ``Job``, the doors and the runners inside
jobs call it without knowing; the service decides what the caller may do and see."""
from __future__ import annotations

import errno
import os
import socket
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..arrays import ArrayRecord, ArraySpec
from ..errors import PermissionDenied, ServiceUnavailable
from ..model import JobRecord, JobSpec, State, WorkerRecord
from ..paths import QueueLayout
from ..recurrence import Rhythm, ScheduleRecord
from ..retention_model import PruneReport, SpaceReport
from . import protocol
from .unit import unit_name

if TYPE_CHECKING:
    from ..messages import Notification
    from ..store.backup import Backup


class RemoteStore:
    """``Store``'s contract, served by the queue's service (one connection per thread)."""

    def __init__(self, layout: QueueLayout, *, timeout: float = 60.0) -> None:
        self.layout = layout
        self.timeout = timeout
        self._local = threading.local()

    # ---- the connection ----------------------------------------------------------------
    def _connection(self) -> socket.socket:
        sock: socket.socket | None = getattr(self._local, "sock", None)
        if sock is not None and self._local.pid != os.getpid():
            sock = None                # a forked child: the parent's connection stays the parent's
        if sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self.timeout)
            try:
                sock.connect(str(self.layout.socket))
            except OSError as exc:
                sock.close()
                raise self._unavailable(exc) from None
            self._local.sock, self._local.pid = sock, os.getpid()
        return sock

    def _unavailable(self, exc: OSError) -> ServiceUnavailable:
        root = self.layout.root
        if exc.errno in (errno.EACCES, errno.EPERM):
            return ServiceUnavailable(
                f"cannot reach the jobmagics service for {root}: {exc.strerror} (only members"
                f" of the queue's group {self.layout.read_settings().get('group')!s} may use it)")
        return ServiceUnavailable(
            f"the jobmagics service for {root} is not running (systemctl start"
            f" {unit_name(root)}, or ask its admin to)")

    def call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        reused = getattr(self._local, "pid", None) == os.getpid() and \
            getattr(self._local, "sock", None) is not None
        sock = self._connection()
        try:
            protocol.send(sock, {"op": op, "args": list(args), "kwargs": kwargs})
            answer = protocol.receive(sock)
        except (OSError, protocol.ConnectionClosed) as exc:
            self.close()
            if reused and op in protocol.READS:   # the service restarted since: ask once more
                return self.call(op, *args, **kwargs)
            error = exc if isinstance(exc, OSError) else OSError(errno.ECONNRESET, str(exc))
            raise self._unavailable(error) from None
        if "error" in answer:
            raise protocol.error_from_wire(answer["error"])
        return answer["ok"]

    def close(self) -> None:
        sock = getattr(self._local, "sock", None)
        if sock is not None:
            self._local.sock = None
            sock.close()

    # ---- Store's contract --------------------------------------------------------------
    def submit(self, specs: Sequence[JobSpec], user: str, host: str,
               payloads: Sequence[bytes | None] | None = None,
               array: ArraySpec | None = None) -> list[str]:
        """``user`` and ``host`` are the service's to say: it names the caller itself."""
        wire = []
        for index, spec in enumerate(specs):
            data = protocol.spec_to_wire(spec)
            data["payload"] = payloads[index] if payloads else spec.payload
            wire.append(data)
        return list(self.call("submit", wire, protocol.array_spec_to_wire(array)))

    def array(self, array_id: str) -> ArrayRecord:
        return protocol.array_from_wire(self.call("array", array_id))

    def is_array(self, array_id: str) -> bool:
        return bool(self.call("is_array", array_id))

    def elements(self, array_id: str, *, states: Sequence[State] | None = None,
                 limit: int | None = None, offset: int = 0) -> list[JobRecord]:
        rows = self.call("elements", array_id, _states(states), limit, offset)
        return [protocol.record_from_wire(r) for r in rows]

    def arrays(self, *, user: str | None = None, active: bool = True,
               limit: int | None = 50) -> list[ArrayRecord]:
        return [protocol.array_from_wire(r) for r in self.call("arrays", user, active, limit)]

    def get(self, job_id: str) -> JobRecord:
        return protocol.record_from_wire(self.call("get", job_id))

    def find(self, *, states: Sequence[State] | None = None, user: str | None = None,
             name: str | None = None, since: float | None = None, limit: int | None = 100,
             offset: int = 0, oldest_first: bool = False,
             elements: bool = True) -> list[JobRecord]:
        rows = self.call("find", _states(states), user, name, since, limit, offset, oldest_first,
                         elements)
        return [protocol.record_from_wire(r) for r in rows]

    def count(self, *, states: Sequence[State] | None = None, user: str | None = None,
              name: str | None = None, since: float | None = None,
              elements: bool = True) -> int:
        return int(self.call("count", _states(states), user, name, since, elements))

    def active(self, limit: int | None = None, offset: int = 0,
               user: str | None = None, elements: bool = True) -> list[JobRecord]:
        return [protocol.record_from_wire(r)
                for r in self.call("active", limit, offset, user, elements)]

    def active_counts(self, user: str | None = None) -> dict[str, int]:
        return dict(self.call("active_counts", user))

    def state_counts(self) -> dict[str, int]:
        return dict(self.call("state_counts"))

    def events(self, job_id: str) -> list[dict[str, Any]]:
        return list(self.call("events", job_id))

    def workers(self) -> list[WorkerRecord]:
        return [protocol.worker_from_wire(w) for w in self.call("workers")]

    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.call("resources"))

    def dashboard_lines(self, limit: int = 5) -> dict[str, Any]:
        return dict(self.call("dashboard_lines", limit))

    def setting(self, key: str, default: Any = None) -> Any:
        return self.call("setting", key, default)

    def set_setting(self, key: str, value: Any) -> None:
        self.call("set_setting", key, value)

    def set_paused(self, resource: str | None, paused: bool) -> None:
        self.call("set_paused", resource, paused)

    def apply(self, action: str, job_ids: Sequence[str], actor: str, *,
              manager: bool = False) -> list[tuple[str, State | None]]:
        """``actor`` and ``manager`` are the service's to say: it is whoever holds this
        connection, and the service knows whether that is an admin."""
        done = self.call("apply", action, list(job_ids))
        return [(job_id, None if state is None else State(state)) for job_id, state in done]

    def payload(self, job_id: str) -> bytes | None:
        found = self.call("payload", job_id)
        return None if found is None else bytes(found)

    def result(self, job_id: str, trust: bool = False) -> tuple[bool, bytes] | None:
        found = self.call("result", job_id, trust)
        return None if found is None else (bool(found[0]), bytes(found[1]))

    def save_result(self, job_id: str, ok: bool, blob: bytes, error: str | None = None) -> None:
        self.call("save_result", job_id, ok, blob, error)

    def set_progress(self, job_id: str, progress: float | None, stage: str | None) -> None:
        self.call("set_progress", job_id, progress, stage)

    def pid_of(self, job_id: str) -> tuple[int | None, float | None]:
        pid, started = self.call("pid_of", job_id)
        return pid, started

    def data_version(self) -> int:
        return int(self.call("data_version"))

    def change_version(self) -> int:
        return int(self.call("change_version"))

    def change_versions(self) -> dict[str, int]:
        return {topic: int(n) for topic, n in self.call("change_versions").items()}

    def backup(self, dest: os.PathLike[str]) -> Backup:
        raise PermissionDenied(f"only the service's account copies a system queue: sudo"
                               f" jobmagics backup {os.fspath(dest)} --queue {self.layout.root}")

    def whoami(self) -> dict[str, Any]:
        return dict(self.call("whoami"))

    def prune(self, *, cut: float, states: Sequence[State], user: str | None = None,
              keep_data: bool = True, dry_run: bool = False) -> PruneReport:
        sock = self._connection()
        sock.settimeout(None)        # a big prune takes minutes on a busy disk: its answer
        try:
            found = self.call("prune", cut=cut, states=_states(states), user=user,
                              keep_data=keep_data, dry_run=dry_run)
        finally:
            sock.settimeout(self.timeout)
        return PruneReport.from_dict(found)

    def du(self, by: str = "user") -> SpaceReport:
        return SpaceReport.from_dict(self.call("du", by))

    def move(self, job_id: str, where: str, other: str | None, actor: str, *,
             manager: bool = False) -> JobRecord:
        """``actor`` and ``manager`` are the service's to say (as for ``apply``)."""
        return protocol.record_from_wire(self.call("move", job_id, where, other))

    def update(self, job_ids: Sequence[str], changes: dict[str, Any],
               config: dict[str, Any] | None, actor: str, *,
               manager: bool = False) -> list[JobRecord]:
        """``actor`` and ``manager`` are the service's to say (as for ``apply``)."""
        rows = self.call("update", list(job_ids), changes, config)
        return [protocol.record_from_wire(r) for r in rows]

    # ---- recurring schedules (the service adds them as the caller) ---------------------
    def add_schedule(self, name: str, user: str, host: str, rhythm: Rhythm, overlap: str,
                     specs: Sequence[JobSpec]) -> ScheduleRecord:
        """``user`` and ``host`` are the service's to say, as for ``submit``."""
        wire = [protocol.spec_to_wire(spec) for spec in specs]
        return ScheduleRecord(**self.call("add_schedule", name, [rhythm.every, rhythm.cron,
                                                                 rhythm.tz], overlap, wire))

    def schedule(self, name: str) -> ScheduleRecord:
        return ScheduleRecord(**self.call("schedule", name))

    def schedules(self, user: str | None = None) -> list[ScheduleRecord]:
        return [ScheduleRecord(**r) for r in self.call("schedules", user)]

    def schedule_runs(self, name: str, limit: int | None = 50) -> list[str]:
        return list(self.call("schedule_runs", name, limit))

    def next_schedule_due(self) -> float | None:
        found = self.call("next_schedule_due")
        return None if found is None else float(found)

    def act_on_schedules(self, action: str, names: Sequence[str], actor: str, *,
                         manager: bool = False) -> list[tuple[str, list[str]]]:
        """``actor`` and ``manager`` are the service's to say (see ``apply``)."""
        return [(name, list(ids)) for name, ids in self.call("act_on_schedules", action,
                                                             list(names))]

    # ---- notifications and the declared queue settings --------------------------------
    def notifications(self, job_id: str) -> list[Notification]:
        from ..messages import Notification
        rows = self.call("notifications", job_id)
        return [Notification(**{k: v for k, v in row.items() if k != "status"}) for row in rows]

    def queue_settings(self) -> dict[str, Any]:
        return dict(self.call("queue_settings"))

    def set_queue_setting(self, name: str, value: Any) -> None:
        self.call("set_queue_setting", name, value)


def _states(states: Sequence[State] | None) -> list[str] | None:
    return None if states is None else [s.value for s in states]
