"""Plain data of the queue: states and their transitions, and a job's fields (the one
declaration: ``JobSettings``, ``JobOptions``, ``JobRecord``; see ``fields``). No I/O here."""
from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, field
from typing import Any

from .checks import (
    JOB_ID_RE,
    MAX_MEMORY,
    MAX_NAME,
    MAX_PRIORITY,
    NOTIFY_ON,
    RESOURCE_RE,
    check_cell,
    check_int,
    check_job_id,
    check_notify_target,
    check_seconds,
    check_text,
    format_job_id,
    format_memory,
    parse_memory,
    parse_resource,
    parse_resource_request,
    plain_json,
    resource_request_text,
)
from .errors import InvalidJob, InvalidTransition
from .fields import by_keyword, check_type, declared_fields, recorded, setting, settings
from .kinds import KINDS as KIND_REGISTRY
from .kinds import kind as registered_kind

__all__ = [
    "ACTIVE", "BACKENDS", "JOB_ID_RE", "KINDS", "MAX_MEMORY", "MAX_NAME", "MAX_PRIORITY",
    "RESOURCE_RE", "RETRYABLE", "STATE_NAMES", "TERMINAL", "TRANSITIONS", "JobOptions", "JobRecord",
    "JobSettings", "JobSpec", "State", "WorkerRecord", "check_cell", "check_job_id",
    "check_text", "check_transition", "dependency_cycle", "format_job_id", "format_memory",
    "parse_memory", "parse_resource", "parse_state", "parse_states", "plain_json"]


class State(str, enum.Enum):
    WAITING = "waiting"      # on dependencies, or held
    PENDING = "pending"      # claimable
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"

    def __str__(self) -> str:
        return self.value


TERMINAL = frozenset({State.COMPLETED, State.FAILED, State.CANCELLED, State.TIMEOUT})
# Ended without completing: such a job may be retried, and a job after it can never start.
RETRYABLE = (State.FAILED, State.CANCELLED, State.TIMEOUT)
ACTIVE = frozenset({State.WAITING, State.PENDING, State.RUNNING})
STATE_NAMES = tuple(s.value for s in State)

# Every step a job's life-cycle may take (submission enters waiting or pending). The
# life-cycle (store.lifecycle) makes each of them and refuses any other with InvalidTransition.
# Two steps keep the state and are recorded all the same: a waiting job held (or released
# while a parent still blocks it), and a cancel asked of a running job (its worker ends it).
TRANSITIONS: Mapping[State, frozenset[State]] = {
    State.WAITING: frozenset({State.PENDING, State.WAITING, State.CANCELLED}),  # release; hold
    State.PENDING: frozenset({State.RUNNING, State.WAITING, State.CANCELLED}),   # claim; hold
    State.RUNNING: frozenset({State.COMPLETED, State.FAILED, State.CANCELLED, State.TIMEOUT,
                              State.PENDING, State.RUNNING}),  # ends; requeue; cancel asked
    State.COMPLETED: frozenset(),
    State.FAILED: frozenset({State.PENDING, State.WAITING}),          # retry
    State.CANCELLED: frozenset({State.PENDING, State.WAITING}),
    State.TIMEOUT: frozenset({State.PENDING, State.WAITING}),
}


def check_transition(job_id: str, old: State, new: State) -> None:
    """Raise ``InvalidTransition`` unless a job may go from ``old`` to ``new``."""
    if new not in TRANSITIONS[old]:
        raise InvalidTransition(f"{job_id} cannot go from {old.value} to {new.value}")


KINDS = tuple(KIND_REGISTRY)          # the names; each kind is declared in jobmagics.kinds
BACKENDS = ("local", "slurm", "pbs")


def dependency_cycle(after: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A cycle in ``job id -> ids it runs after`` (e.g. ``[A, B, A]``), or None. Such jobs
    would wait for each other forever."""
    done: set[str] = set()
    for start in after:
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node, index = stack.pop()
            if index == 0:
                if node in on_path:
                    return path[path.index(node):] + [node]
                if node in done or node not in after:
                    continue
                path.append(node)
                on_path.add(node)
            parents = after[node]
            if index < len(parents):
                stack.append((node, index + 1))
                stack.append((parents[index], 0))
            else:
                path.pop()
                on_path.discard(node)
                done.add(node)
    return None


def parse_state(value: str) -> State:
    try:
        return State(value)
    except ValueError:
        raise InvalidJob(f"unknown state {value!r}; states are {', '.join(STATE_NAMES)}") from None


def parse_states(value: str | State | Sequence[str | State] | None) -> list[State] | None:
    if value is None:
        return None
    if not isinstance(value, (str, list, tuple, set, frozenset)):
        raise InvalidJob(f"a state filter is a state name or a list of them, not {value!r}")
    items = value.split(",") if isinstance(value, str) else list(value)
    return [v if isinstance(v, State) else parse_state(v.strip() if isinstance(v, str) else v)
            for v in items]


def _name(value: object) -> str | None:
    return None if value is None else check_text("name", value)


def _resources(value: object) -> list[str]:
    """Sorted 'name' (one unit) or 'name:N' (N units) strings; a name asked twice with the
    same count once (a queue written before units existed stored plain names: read as one)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple, set, frozenset)):
        raise InvalidJob(f"resources must be a list of names, not {value!r:.80}")
    counts: dict[str, int] = {}
    for item in items:
        name, count = parse_resource_request(check_text("resource", item))
        if counts.setdefault(name, count) != count:
            raise InvalidJob(f"resource {name!r} is asked for twice, with {counts[name]} and"
                             f" {count} units: ask once ({name}:N)")
    return sorted(resource_request_text(name, count) for name, count in counts.items())


def _job_ids(value: object) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple, set, frozenset)):
        raise InvalidJob(f"after must be a list of job ids, not {value!r:.80}")
    return sorted({check_job_id(a) for a in items})


def _env(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidJob("env must be a mapping of names to text values")
    return {check_text("env name", k, 1024): check_text(f"env {k!r}", v, 1 << 20)
            for k, v in value.items()}


def _notify(value: object) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise InvalidJob(f"notify must be a list of targets, not {value!r:.80}")
    return list(dict.fromkeys(check_notify_target(t) for t in items))


def _notify_on(value: object) -> str:
    if value not in NOTIFY_ON:
        raise InvalidJob(f"notify_on is one of {', '.join(NOTIFY_ON)}, not {value!r:.80}")
    return str(value)


def _backend(value: object) -> str:
    if value not in BACKENDS:
        raise InvalidJob(f"unknown backend {value!r}; backends are {', '.join(BACKENDS)}")
    return str(value)


@dataclass(kw_only=True)
class JobOptions:
    """Declared extras that some kinds and doors use (stored as JSON in the job's options)."""

    capture: bool = setting(False, "keep stdout and stderr apart for the caller (run())")
    stdin_b64: str | None = setting(None, "the job's standard input, base64 (run(input=...))")
    env_replace: bool = setting(False, "env replaces the worker's environment (run(env=...))")
    python: str | None = setting(None, "the interpreter of a python or function job")
    pull: list[str] = setting([], "variables a python job sends back (%%job submit --pull)")
    sbatch_args: list[str] = setting([], "extra sbatch options of a SLURM job (--partition=gpu)")

    @classmethod
    def of(cls, value: JobOptions | Mapping[str, Any] | None) -> JobOptions:
        """Options from what a caller gave: unknown names and wrong types are refused."""
        if value is None:
            return cls()
        if isinstance(value, JobOptions):
            return value
        if not isinstance(value, Mapping):
            raise InvalidJob(f"options must be a mapping, not {type(value).__name__}")
        known = by_keyword(cls)            # an option's keyword is its name
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise InvalidJob(f"unknown option {unknown[0]!r}; options are {', '.join(known)}")
        return cls(**{k: check_type(f"option {k}", known[k].hint, v) for k, v in value.items()})

    @classmethod
    def stored(cls, value: object) -> JobOptions:
        """Options as read back: what is not a known option of the right type is left out
        (a row written by hand, or by a newer jobmagics, still reads)."""
        if not value or not isinstance(value, Mapping):
            return cls()
        kept = {}
        for f in declared_fields(cls):
            try:
                kept[f.name] = check_type(f.name, f.hint, value[f.name])
            except (KeyError, InvalidJob):
                continue
        return cls(**kept)

    def to_json(self) -> dict[str, Any]:
        """The options that differ from their defaults."""
        return {f.name: getattr(self, f.name) for f in declared_fields(type(self))
                if getattr(self, f.name) != f.default}


@dataclass(kw_only=True)
class JobSettings:
    """THE table of what a user sets on a job: each field's type, default, check, flag and
    help. ``Queue.submit``, the CLI, ``%%job submit``, REST and the TypeScript types derive
    from it (``fields``); a new setting is one field here plus one schema migration."""

    kind: str = setting(MISSING, " or ".join(KINDS), body=True, flag=None)
    command: list[str] | None = setting(None, "the argv of a command job", body=True, json=True)
    code: str | None = setting(None, "the code of a python job", body=True, owner_only=True)
    experiment: dict[str, Any] | None = setting(
        None, "an experiment's module:Class target and JSON config", body=True, json=True)
    name: str | None = setting(None, "a short name for the job", check=_name, metavar="NAME",
                               example="fit-1", editable=True)
    priority: int = setting(0, "higher starts first", metavar="P", check=lambda v: check_int(
        "priority", v, -MAX_PRIORITY, MAX_PRIORITY), example=5, editable=True)
    resources: list[str] = setting(
        [], "a resource the job holds while it runs (hardware; gpu:2 for two units)",
        flag="--resource",
        metavar="R", check=_resources, json=True, example=["gpu"], editable=True)
    cpus: int = setting(1, "CPU slots the job needs", metavar="N",
                        check=lambda v: check_int("cpus", v, 1, 4096), example=2, editable=True)
    memory: int | None = setting(None, "memory the job needs, e.g. 4G", metavar="SIZE",
                                 check=parse_memory, accepts="string | number", example="1G",
                                 editable=True)
    after: list[str] = setting([], "start only after this job completed", metavar="ID",
                               check=_job_ids, json=True, example=["JOB-20261121-00001"])
    timeout: float | None = setting(None, "seconds before the job is stopped (state timeout)",
                                    metavar="S", check=lambda v: check_seconds("timeout", v),
                                    example=600, editable=True)
    retries: int = setting(0, "times to retry a failure (with backoff)", metavar="K",
                           check=lambda v: check_int("retries", v, 0, 100), example=2,
                           editable=True)
    retry_delay: float = setting(1.0, "seconds before the first retry (doubling each time)",
                                 metavar="S",
                                 check=lambda v: check_seconds("retry_delay", v) or 0.0,
                                 example=0.5, editable=True)
    cwd: str = setting(".", "working directory (default: here)", metavar="DIR",
                       check=lambda v: check_text("cwd", v, 4096), example="/tmp")
    env: dict[str, str] = setting({}, "an environment variable NAME=VALUE", metavar="K=V",
                                  check=_env, json=True, public=False, owner_only=True,
                                  example={"ALPHA": "1"})
    held: bool = setting(False, "submit held: it waits until released", keyword="hold",
                         example=True)
    backend: str = setting("local", "where it runs", choices=BACKENDS, check=_backend,
                           example="slurm")
    notify: list[str] = setting([], "where to say that it ended: email:ADDR or webhook:URL",
                                metavar="TARGET", check=_notify, json=True,
                                example=["email:alice@example.org"], editable=True)
    notify_on: str = setting("end", "notify on every end, or on failure only", choices=NOTIFY_ON,
                             check=_notify_on, example="failure", editable=True)
    options: JobOptions = setting(JobOptions(), "declared extras (see JobOptions)", flag=None,
                                  check=JobOptions.of, json=True, example={"capture": True})


@dataclass(kw_only=True)
class JobSpec(JobSettings):
    """What a user asks for. ``validate()`` checks everything that needs no I/O."""

    payload: bytes | None = None        # cloudpickled (callable, args, kwargs), or pushed variables

    def validate(self) -> JobSpec:
        registered_kind(self.kind).check(self)      # an unknown kind is refused here
        for f in settings(JobSettings):
            setattr(self, f.name, f.check(getattr(self, f.name)))
        if self.backend != "local" and "hardware" in self.resources:   # experiments hold it too
            raise InvalidJob("instrument jobs run on the station's worker, not on"
                             f" {self.backend.upper()}")
        return self


@dataclass(kw_only=True)
class JobRecord(JobSettings):
    """One job as stored in the queue: its settings plus what the queue records."""

    id: str = recorded("the job's id, JOB-YYYYMMDD-NNNNN")
    user: str = recorded("who submitted it (Unix login)")
    host: str = recorded("where it was submitted")
    state: State = recorded("waiting, pending, running, completed, failed, cancelled or timeout")
    attempt: int = recorded("the attempt number, from 1")
    submitted_at: float = recorded("when it was submitted (Unix time)")
    started_at: float | None = recorded("when the current attempt started", None, per_attempt=True)
    finished_at: float | None = recorded("when it ended", None, per_attempt=True)
    exit_code: int | None = recorded("the exit status of its process", None, per_attempt=True)
    error: str | None = recorded("why it failed, in one line", None, per_attempt=True)
    worker: str | None = recorded("the worker running it", None, per_attempt=True)
    pid: int | None = recorded("its process id on the worker's host", None, per_attempt=True)
    pid_started: float | None = recorded("when that process started", None, per_attempt=True)
    progress: float | None = recorded("0..1, as the job reports it", None, per_attempt=True)
    stage: str | None = recorded("what the job says it is doing", None, per_attempt=True)
    cancel_requested: bool = recorded("a cancel was asked of the running job", False,
                                      per_attempt=True)
    backend_id: str | None = recorded("its id in the backend (SLURM job id)", None,
                                      per_attempt=True)
    not_before: float = recorded("it is not started before this time (retry backoff)", 0.0,
                                 per_attempt=True)
    array_id: str | None = recorded("the array it is an element of (None: a job of its own)",
                                     None)
    array_index: int | None = recorded("its index in that array", None)
    units: dict[str, list[str]] | None = recorded(
        "the named units of its resources this attempt holds (gpu: 0, 2)", None, json=True,
        per_attempt=True)
    schedule: str | None = recorded("the recurring schedule that submitted it", None)
    worker_lost_at: float | None = recorded(
        "set when read: the job runs on a worker that is gone, last known alive then", None,
        stored=False)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        """The job as JSON data, without its environment (it may hold secrets; the owner
        reads it through the API)."""
        data = {k: v for k, v in asdict(self).items() if k not in _PRIVATE}
        data["state"] = self.state.value
        return data


_PRIVATE = frozenset(f.name for f in declared_fields(JobRecord) if not f.public)


@dataclass
class WorkerRecord:
    id: str
    host: str
    pid: int
    pid_started: float
    user: str
    started_at: float
    heartbeat_at: float
    slots: int
    memory: int | None
    resources: dict[str, int]
    only_user: str | None
    state: str
    units: dict[str, list[str]] = field(default_factory=dict)   # named units per resource

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
