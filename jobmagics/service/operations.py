"""What a system queue's service does for a caller, and who may ask for what.

Each operation takes the caller (whom the kernel named, never the request) and the request's
arguments, applies the owner/admin rules and calls the store. The names and arguments mirror
``Store``'s methods, so ``RemoteStore`` is the store a client of a system queue holds.
A request for anything not listed here is refused: the service has no other door."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .. import kinds
from ..checks import check_int
from ..errors import InvalidJob, PermissionDenied
from ..fields import declared_fields
from ..model import JobRecord, State, check_job_id, check_text, parse_states
from ..payloads import foreign_result
from ..store import Store, Submission
from . import protocol
from .group_commit import GroupCommit
from .policy import InstrumentPolicy

ADMIN_SETTINGS = ("admins", "operators", "allowed_experiments")
_OWNER_ONLY = tuple(f for f in declared_fields(JobRecord) if f.owner_only)


@dataclass(frozen=True)
class Caller:
    """Who is asking: the uid from the socket's peer credentials, and its account name."""

    uid: int
    user: str


class Session:
    """One request's view of the queue: the store, the caller and the caller's standing."""

    def __init__(self, store: Store, submissions: GroupCommit, caller: Caller,
                 host: str) -> None:
        self.store, self.submissions, self.caller, self.host = store, submissions, caller, host
        self._admins: list[str] | None = None

    @property
    def admin(self) -> bool:
        if self.caller.uid == 0:
            return True
        if self._admins is None:
            self._admins = list(self.store.setting("admins", []))
        return self.caller.user in self._admins

    def may_read_secrets_of(self, job: JobRecord) -> bool:
        return job.user == self.caller.user or self.admin

    def visible(self, job: JobRecord) -> list[Any]:
        """The record as this caller may see it: another's env and code hidden."""
        if not self.may_read_secrets_of(job):
            hidden = {f.name: _hidden(f.name, getattr(job, f.name), job.user)
                      for f in _OWNER_ONLY}
            job = dataclasses.replace(job, **hidden)
        return protocol.record_to_wire(job)

    def own_running_job(self, job_id: str) -> JobRecord:
        """The caller's running job ``job_id`` (what a job may report on: progress, result)."""
        job = self.store.get(check_job_id(job_id))
        if job.user != self.caller.user and self.caller.uid != 0:
            raise PermissionDenied(f"{self.caller.user} may not report for {job.id}:"
                                   f" it belongs to {job.user}")
        return job

    def require_admin(self, verb: str) -> None:
        if not self.admin:
            raise PermissionDenied(f"{self.caller.user} may not {verb}: only a queue admin may"
                                   " (see `jobmagics admin`)")

    def check_instrument_use(self, specs: Sequence[Any]) -> None:
        """The instrument policy of a submission, for the operations modules (ops_*), which
        cannot import this module (it imports them)."""
        check_instrument_use(self, specs)


def _hidden(name: str, value: Any, owner: str) -> Any:
    if name == "env":
        return {}
    return None if value is None else f"# hidden: only {owner} and the queue admins read it"


# ---- the operations -----------------------------------------------------------------------
def submit(s: Session, specs: object, array: object = None) -> list[str]:
    if not isinstance(specs, list) or not specs:
        raise InvalidJob("a submission needs at least one job")
    built = [protocol.spec_from_wire(data) for data in specs]
    for spec in built:
        spec.validate()
    check_instrument_use(s, built)
    return s.submissions.submit(Submission(built, s.caller.user, s.host,
                                           [spec.payload for spec in built],
                                           protocol.array_spec_from_wire(array)))


def array(s: Session, array_id: str) -> dict[str, Any]:
    return protocol.array_to_wire(s.store.array(check_job_id(array_id)))


def is_array(s: Session, array_id: str) -> bool:
    return s.store.is_array(check_job_id(array_id))


def elements(s: Session, array_id: str, states: list[str] | None = None,
             limit: int | None = None, offset: int = 0) -> list[list[Any]]:
    records = s.store.elements(check_job_id(array_id), states=parse_states(states),
                               limit=_count("limit", limit), offset=_count("offset", offset) or 0)
    return [s.visible(r) for r in records]


def arrays(s: Session, user: str | None = None, active: bool = True,
           limit: int | None = 50) -> list[dict[str, Any]]:
    return [protocol.array_to_wire(r) for r in s.store.arrays(
        user=_text(user), active=bool(active), limit=_count("limit", limit))]


def check_instrument_use(s: Session, specs: Sequence[Any]) -> None:
    """Only admins and operators run their own python in the instrument's shared kernel (the
    persistent kernel of an exclusive resource); others run allow-listed experiments there."""
    candidates = [spec for spec in specs
                  if spec.resources and kinds.kind(spec.kind).in_instrument_kernel]
    if not candidates:
        return
    exclusive = {name for name, r in s.store.resources().items() if r["capacity"] == 1}
    policy = InstrumentPolicy.read(s.store.setting)
    for spec in candidates:
        held = sorted(exclusive.intersection(spec.resources))
        if not held:
            continue
        target = (spec.experiment or {}).get("target")
        refusal = None if s.admin else policy.refusal(s.caller.user, spec.kind, target, held[0])
        if refusal is not None:
            raise PermissionDenied(refusal)
        if spec.kind == "experiment" and target in policy.allowed:
            check_config(spec.experiment or {})


_ALLOWED_CLASSES: dict[str, type | None] = {}


def check_config(experiment: dict[str, Any]) -> None:
    """An allow-listed experiment's config is checked by its class at submit (unknown keys,
    wrong types, its own ``validate()``), not hours later at the instrument. The admins vouched
    for that class, so the service may import it; a class it cannot import (it lives in the
    job's folder) is checked when the job starts, as any other."""
    target = str(experiment.get("target"))
    if target not in _ALLOWED_CLASSES:
        from ..experiments.loading import load_experiment_class  # numpy: only when needed
        try:
            _ALLOWED_CLASSES[target] = load_experiment_class(target)
        except InvalidJob:
            _ALLOWED_CLASSES[target] = None
    cls = _ALLOWED_CLASSES[target]
    if cls is not None:     # the client's check and the worker's: the same words
        from ..experiments.checking import check_config as check_with_class
        from ..store.jobs import UNCHECKED
        check_with_class(cls, target, experiment.get("config") or {})
        experiment.pop(UNCHECKED, None)         # the service checked it after all


def get(s: Session, job_id: str) -> list[Any]:
    return s.visible(s.store.get(check_job_id(job_id)))


def find(s: Session, states: list[str] | None = None, user: str | None = None,
         name: str | None = None, since: float | None = None, limit: int | None = 100,
         offset: int = 0, oldest_first: bool = False, elements: bool = True) -> list[list[Any]]:
    records = s.store.find(states=parse_states(states), user=_text(user), name=_text(name),
                           since=_seconds(since), limit=_count("limit", limit),
                           offset=_count("offset", offset) or 0,
                           oldest_first=bool(oldest_first), elements=bool(elements))
    return [s.visible(r) for r in records]


def count(s: Session, states: list[str] | None = None, user: str | None = None,
          name: str | None = None, since: float | None = None, elements: bool = True) -> int:
    return s.store.count(states=parse_states(states), user=_text(user), name=_text(name),
                         since=_seconds(since), elements=bool(elements))


def active(s: Session, limit: int | None = None, offset: int = 0,
           user: str | None = None, elements: bool = True) -> list[list[Any]]:
    return [s.visible(r) for r in s.store.active(_count("limit", limit),
                                                 _count("offset", offset) or 0, _text(user),
                                                 bool(elements))]


def _count(label: str, value: object) -> int | None:
    return None if value is None else check_int(label, value, 0, 1 << 62)


def _text(value: object) -> str | None:
    return None if value is None else check_text("a filter", value)


def _seconds(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidJob(f"since must be a time in seconds, not {value!r}")
    return float(value)


def payload(s: Session, job_id: str) -> bytes | None:
    job = s.store.get(check_job_id(job_id))
    if not s.may_read_secrets_of(job):
        raise PermissionDenied(f"{s.caller.user} may not read the payload of {job.id}:"
                               f" it belongs to {job.user}")
    return s.store.payload(job.id)


def result(s: Session, job_id: str, trust: bool = False) -> list[Any] | None:
    """A job's stored result, vouched for: given to its owner, or to another caller who says
    they trust the owner's code (unpickling it runs code the owner's job wrote)."""
    job = s.store.get(check_job_id(job_id))
    if job.user != s.caller.user and not trust:
        raise foreign_result(job.id, job.user)
    stored = s.store.result(job.id)
    return None if stored is None else [stored[0], stored[1], job.user]


def save_result(s: Session, job_id: str, ok: bool, blob: bytes, error: str | None = None) -> None:
    job = s.own_running_job(job_id)
    if job.state is not State.RUNNING:
        raise PermissionDenied(f"{job.id} is {job.state.value}: only a running job stores its"
                               " result")
    if not isinstance(blob, bytes):
        raise InvalidJob("a result must be bytes")
    s.store.save_result(job.id, bool(ok), blob, error)


def set_progress(s: Session, job_id: str, progress: float | None, stage: str | None) -> None:
    job = s.own_running_job(job_id)
    s.store.set_progress(job.id, progress, stage)


def apply(s: Session, action: str, job_ids: list[str]) -> list[list[Any]]:
    done = s.store.apply(action, [check_job_id(i) for i in job_ids], s.caller.user,
                         manager=s.caller.uid == 0)
    return [[job_id, None if state is None else state.value] for job_id, state in done]


def set_setting(s: Session, key: str, value: Any) -> None:
    if key not in ADMIN_SETTINGS:
        raise PermissionDenied(f"the setting {key!r} is not changed through the service")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidJob(f"{key} must be a list of names")
    s.require_admin(f"change the queue's {key}")
    s.store.set_setting(key, sorted(set(value)))


def set_paused(s: Session, resource: str | None, paused: bool) -> None:
    s.require_admin("pause or resume the queue")
    s.store.set_paused(resource, bool(paused))


def _read(method: str) -> Callable[..., Any]:
    """A read anyone in the queue's group may make, answered as the store answers it."""
    def read(s: Session, *args: Any) -> Any:
        return getattr(s.store, method)(*args)
    read.__name__ = method
    return read


def workers(s: Session) -> list[dict[str, Any]]:
    return [protocol.worker_to_wire(w) for w in s.store.workers()]


def pid_of(s: Session, job_id: str) -> list[Any]:
    return list(s.store.pid_of(check_job_id(job_id)))


def events(s: Session, job_id: str) -> list[dict[str, Any]]:
    return s.store.events(check_job_id(job_id))


def whoami(s: Session) -> dict[str, Any]:
    return {"user": s.caller.user, "uid": s.caller.uid, "admin": s.admin}


OPERATIONS: dict[str, Callable[..., Any]] = {op.__name__: op for op in (
    submit, get, find, count, active, payload, result, save_result, set_progress, apply,
    array, is_array, elements, arrays,
    set_setting, set_paused, workers, pid_of, events, whoami,
    _read("active_counts"), _read("state_counts"), _read("resources"), _read("setting"),
    _read("dashboard_lines"),
)}

from . import ops_edits, ops_notifications, ops_retention, ops_schedules  # noqa: E402

for _module in (ops_edits, ops_schedules, ops_retention, ops_notifications):
    OPERATIONS.update(_module.OPERATIONS)
