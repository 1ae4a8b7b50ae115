"""Plain data of the queue: states, submissions, job records. No I/O here."""
from __future__ import annotations

import enum
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import InvalidJob


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
ACTIVE = frozenset({State.WAITING, State.PENDING, State.RUNNING})
STATE_NAMES = tuple(s.value for s in State)

KINDS = ("command", "python", "function", "experiment")
BACKENDS = ("local", "slurm")
JOB_ID_RE = re.compile(r"^JOB-\d{8}-\d{5,}$")
RESOURCE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
MAX_NAME = 200
MAX_PRIORITY = 10**9
MAX_MEMORY = 1 << 60


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


def format_job_id(day: str, number: int) -> str:
    return f"JOB-{day}-{number:05d}"


def check_job_id(job_id: object) -> str:
    if not isinstance(job_id, str) or not JOB_ID_RE.match(job_id):
        raise InvalidJob(f"{job_id!r} is not a job id (they look like JOB-20261121-00001)")
    return job_id


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
    return [v if isinstance(v, State) else parse_state(v.strip() if isinstance(v, str) else v) for v in items]


def parse_memory(value: str | float | None) -> int | None:
    """'4G', '512M', '1.5GiB', 2048 (bytes) -> bytes. None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidJob(f"memory must be a size like '4G', not {value!r}")
    if isinstance(value, (int, float)):
        if not 0 < value <= MAX_MEMORY:     # also NaN; the database holds 64-bit integers
            raise InvalidJob(f"memory must be between 1 byte and 1 EiB, not {value!r}")
        return int(value)
    match = _MEMORY_RE.match(str(value))
    if not match:
        raise InvalidJob(f"cannot read memory size {value!r}; write it like 512M, 4G or 1.5GiB")
    number, unit = float(match.group(1)), match.group(2).lower()
    size = int(number * _UNITS[unit])
    if not 0 < size <= MAX_MEMORY:
        raise InvalidJob(f"memory must be between 1 byte and 1 EiB, not {value!r}")
    return size


def format_memory(size: int | None) -> str:
    if size is None:
        return "-"
    for unit in ("P", "T", "G", "M", "K"):
        scale = _UNITS[unit.lower()]
        if size >= scale:
            amount = size / scale
            return f"{amount:.0f}{unit}" if amount == int(amount) else f"{amount:.1f}{unit}"
    return f"{size}B"


def parse_resource(spec: str) -> tuple[str, int]:
    """'hardware' -> ('hardware', 1); 'gpu=2' -> ('gpu', 2)."""
    name, _, cap = spec.partition("=")
    name = name.strip()
    if not RESOURCE_RE.match(name):
        raise InvalidJob(
            f"bad resource name {name!r}: use letters, digits, '_', '-', '.', starting with a letter")
    if not cap:
        return name, 1
    try:
        capacity = int(cap)
    except ValueError:
        raise InvalidJob(f"resource capacity in {spec!r} must be a whole number") from None
    if capacity < 1:
        raise InvalidJob(f"resource capacity in {spec!r} must be at least 1")
    return name, capacity


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
                raise ValueError
            value = int(str(value).strip())  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidJob(f"{name} must be a whole number, not {value!r}") from None
    if not low <= value <= high:
        raise InvalidJob(f"{name} must be between {low} and {high}, not {value}")
    return value


def check_text(name: str, value: object, limit: int = MAX_NAME, os_string: bool = False) -> str:
    """``value`` if it is text the queue can store: no NUL, at most ``limit`` characters, and
    valid UTF-8. Bytes that are not UTF-8 reach Python from argv or files as lone surrogates
    (``os.fsdecode``); SQLite cannot store them. ``os_string`` values (command arguments,
    which may name files whose names are not UTF-8) are stored as JSON, which keeps such bytes
    exactly, so they pass. Environment values are text a user reads back (``status``, the
    sidebar): they must be UTF-8, as DESIGN's bad-input rule says."""
    if not isinstance(value, str):
        raise InvalidJob(f"{name} must be text, not {type(value).__name__}")
    if "\x00" in value:
        raise InvalidJob(f"{name} must not contain NUL bytes")
    if len(value) > limit:
        raise InvalidJob(f"{name} is longer than {limit} characters")
    try:
        value.encode("utf-8", "surrogateescape" if os_string else "strict")
    except UnicodeEncodeError as exc:
        raise InvalidJob(f"{name} is not UTF-8 text: {_bad_character(value, exc.start)}") from None
    return value


def _bad_character(value: str, index: int) -> str:
    char = ord(value[index])
    if 0xDC80 <= char <= 0xDCFF:      # surrogateescape's stand-in for an undecodable byte
        return f"byte 0x{char - 0xDC00:02x} at character {index}"
    return f"lone surrogate U+{char:04X} at character {index}"


def plain_json(value: Any, what: str) -> Any:
    """``value`` as plain JSON data; numpy scalars and arrays become numbers and lists."""
    def convert(item: Any) -> Any:
        for method in ("tolist", "item"):
            if callable(getattr(item, method, None)):
                return getattr(item, method)()
        raise TypeError(f"{type(item).__name__} {item!r:.80}")
    try:
        return json.loads(json.dumps(value, default=convert, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidJob(f"the {what} must be JSON data (numbers, text, lists, dicts): {exc}") from None


def check_cell(code: str) -> str:
    """Python jobs are notebook cells: plain Python, or IPython syntax (``%magic``, ``!cmd``)
    that IPython's own input transformer turns into Python."""
    try:
        compile(code, "<job>", "exec")
        return code
    except SyntaxError as exc:
        error = exc
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        compile(TransformerManager().transform_cell(code), "<job>", "exec")
        return code
    except SyntaxError:
        raise InvalidJob(f"the code does not compile: {error.msg} (line {error.lineno})") from None


@dataclass
class JobSpec:
    """What a user asks for. ``validate()`` checks everything that needs no I/O."""

    kind: str
    command: list[str] | None = None
    code: str | None = None
    payload: bytes | None = None            # cloudpickled (callable, args, kwargs)
    experiment: dict[str, Any] | None = None
    name: str | None = None
    priority: int = 0
    resources: list[str] = field(default_factory=list)
    cpus: int = 1
    memory: int | None = None
    after: list[str] = field(default_factory=list)
    timeout: float | None = None
    retries: int = 0
    retry_delay: float = 1.0
    cwd: str = "."
    env: dict[str, str] = field(default_factory=dict)
    hold: bool = False
    backend: str = "local"
    options: dict[str, Any] = field(default_factory=dict)   # kind-specific extras (capture, stdin, push/pull)

    def validate(self) -> JobSpec:
        if self.kind not in KINDS:
            raise InvalidJob(f"unknown job kind {self.kind!r}; kinds are {', '.join(KINDS)}")
        self._validate_body()
        if self.name is not None:
            self.name = check_text("name", self.name)
        self.priority = _check_int("priority", self.priority, -MAX_PRIORITY, MAX_PRIORITY)
        self.cpus = _check_int("cpus", self.cpus, 1, 4096)
        self.retries = _check_int("retries", self.retries, 0, 100)
        self.memory = parse_memory(self.memory)
        self.resources = sorted({parse_resource(check_text("resource", r))[0] for r in self.resources})
        self.after = sorted({check_job_id(a) for a in self.after})
        self.timeout = self._positive("timeout", self.timeout)
        self.retry_delay = self._positive("retry_delay", self.retry_delay) or 0.0
        self.cwd = check_text("cwd", self.cwd, 4096)
        if not isinstance(self.env, Mapping):
            raise InvalidJob("env must be a mapping of names to text values")
        self.env = {check_text("env name", k, 1024): check_text(f"env {k!r}", v, 1 << 20)
                    for k, v in self.env.items()}
        self.options = plain_json(self.options, "options")
        if self.backend not in BACKENDS:
            raise InvalidJob(f"unknown backend {self.backend!r}; backends are {', '.join(BACKENDS)}")
        if self.backend == "slurm" and (self.kind == "experiment" or "hardware" in self.resources):
            raise InvalidJob("instrument jobs run on the station's worker, not on SLURM")
        return self

    def _validate_body(self) -> None:
        bodies = {"command": self.command, "python": self.code,
                  "function": self.payload, "experiment": self.experiment}
        if bodies[self.kind] is None:
            raise InvalidJob(f"a {self.kind} job needs its {self.kind if self.kind != 'python' else 'code'}")
        if self.kind == "command":
            if isinstance(self.command, str) or not self.command:
                raise InvalidJob("command must be a non-empty list of arguments, e.g. ['python', 'fit.py']"
                                 " (use ['sh', '-c', '...'] for a shell line)")
            self.command = [check_text("command argument", str(a) if not isinstance(a, str) else a, 1 << 20,
                                       os_string=True) for a in self.command]
        if self.kind == "python":
            self.code = check_cell(check_text("code", self.code, 16 << 20))
        if self.kind == "experiment":
            exp = self.experiment or {}
            target = exp.get("target", "")
            if not isinstance(target, str) or not re.match(r"^[\w.]+:[\w.]+$", target):
                raise InvalidJob(f"an experiment names its class as 'module:Class', not {target!r}")
            exp["config"] = plain_json(exp.get("config") or {}, "config")
            if "hardware" not in self.resources:
                self.resources = [*self.resources, "hardware"]

    @staticmethod
    def _positive(name: str, value: object) -> float | None:
        if value is None:
            return None
        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidJob(f"{name} must be a number of seconds, not {value!r}") from None
        if not (math.isfinite(number) and number > 0):
            raise InvalidJob(f"{name} must be a positive number of seconds, not {value!r}")
        return number


@dataclass
class JobRecord:
    """One job as stored in the queue."""

    id: str
    kind: str
    name: str | None
    user: str
    host: str
    state: State
    held: bool
    priority: int
    resources: list[str]
    cpus: int
    memory: int | None
    after: list[str]
    timeout: float | None
    retries: int
    retry_delay: float
    attempt: int
    submitted_at: float
    started_at: float | None
    finished_at: float | None
    exit_code: int | None
    error: str | None
    worker: str | None
    pid: int | None
    progress: float | None
    stage: str | None
    cancel_requested: bool
    backend: str
    backend_id: str | None
    cwd: str
    env: dict[str, str]
    command: list[str] | None
    code: str | None
    experiment: dict[str, Any] | None
    options: dict[str, Any]
    # Not stored: set on read when the job is running on a worker that is gone (its process
    # ended, or, on another host, its lease ran out). When the worker was last known alive.
    worker_lost_at: float | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        data.pop("env")   # may hold secrets; visible to the owner through the API only
        return data


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
