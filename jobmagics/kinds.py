"""The registry of job kinds: one ``Kind`` for each of ``command``, ``python``, ``function``
and ``experiment``.

A ``Kind`` says what a kind of job is wherever it runs: the ``Queue.submit`` keyword that
carries its body, how that body is checked, how it is sent as JSON (a REST submit), what a job
of it runs in one line (the REST summary, ``jobmagics status``), whether the worker's zygote
may fork it, where its live output comes from and how its failure is described. How a worker
executes each kind (the program of a child process, the step in a Jupyter kernel) is
``kernel_worker.kinds``; a test checks that every kind here has its way to run there.

Adding a kind: one ``Kind`` below (its body check and description beside it) and its entry in
``kernel_worker.kinds``. A kind that is not registered is refused at every door: submission
(``JobSpec.validate``) and the worker (a row written by hand fails with the same message).
No I/O here; ``model`` imports this module, so it imports the model only for type checking."""
from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from .checks import check_cell, check_text, plain_json
from .errors import InvalidJob
from .formats import cut

if TYPE_CHECKING:
    from .model import JobSettings, JobSpec

__all__ = ["KINDS", "JsonBody", "Kind", "LiveOutput", "describe", "kind", "kind_of_submission",
           "live_source", "one_of"]

# Where a job's live output is read from: its captured rich outputs (``outputs/<id>.jsonl``,
# written by the kernel that runs it) or the text of its log (``logs/<id>.log``).
LiveOutput = Literal["outputs", "log"]
_TARGET_RE = re.compile(r"^[\w.]+:[\w.]+$")


@dataclass(frozen=True)
class JsonBody:
    """How a kind's body is written in JSON, under the kind's keyword (a REST submit body)."""

    hint: Any                        # its Python type: the TypeScript type derives from it
    says: str                        # what it is, as "give exactly one of" names it
    must_be: str                     # what it must be, as the message about a wrong one says
    valid: Callable[[object], bool]  # the JSON value is such a body (its content is check_body's)


@dataclass(frozen=True)
class Kind:
    """Everything about one kind of job that does not depend on where it runs."""

    name: str
    keyword: str                              # the Queue.submit keyword that carries the body
    example: str                              # that keyword as a user writes it, for messages
    body: Callable[[JobSpec], object]         # the spec's body (None: not given)
    check_body: Callable[[JobSpec], None]     # checks (and normalises) a given body
    describe_body: Callable[[JobSettings, int | None], str]  # what it runs ("": nothing to say)
    json_body: JsonBody | None                # how REST sends it; None: not as JSON (a pickle)
    forkable: bool                            # the worker's pre-imported zygote may fork it
    records_interpreter: bool                 # runs the submitter's Python (options.python)
    takes_variables: bool                     # push= loads variables into its namespace
    live_output: LiveOutput                   # where its live output comes from (see live_source)
    error_ends_log: bool                      # its own error is the last line of its log
    # holding an exclusive resource, it runs in that resource's persistent (instrument) kernel,
    # the service's account: a system queue lets only admins and operators run their own code
    in_instrument_kernel: bool = False

    def check(self, spec: JobSpec) -> None:
        """Raise ``InvalidJob`` unless ``spec`` carries a valid body of this kind."""
        if self.body(spec) is None:
            raise InvalidJob(f"a {self.name} job needs its {self.keyword}")
        self.check_body(spec)

    def describe(self, job: JobSettings, width: int | None = None) -> str:
        """What ``job`` runs, on one line (a command line, the first line of the code, ...);
        at most ``width`` characters, cut with "…", when given."""
        return cut(self.describe_body(job, width) or f"({self.name})", width)

    def live_source(self, outputs_exist: bool, terminal: bool) -> LiveOutput | None:
        """Which file a live view of such a job follows: its captured outputs once they exist
        (a kernel writes them, whatever the kind); otherwise the log, except that a job whose
        output comes from a kernel waits for its outputs file while it has not ended (None)."""
        if outputs_exist:
            return "outputs"
        if self.live_output == "log" or terminal:
            return "log"
        return None

    def describe_failure(self, message: str, last_line: str | None, *,
                         telling: bool = False) -> str:
        """A failed attempt in one line: what the executor saw (``message``: an exit code, a
        signal), after the last line of the job's log when that line says what went wrong:
        always for kinds whose own error ends their log (the exception of a traceback), for
        the others only when ``telling`` (e.g. the line is a MemoryError)."""
        if last_line and last_line not in message and (self.error_ends_log or telling):
            return f"{last_line} ({message})"
        return message


# ---- the body checks ------------------------------------------------------------------
def _check_command(spec: JobSpec) -> None:
    given: object = spec.command          # as the caller gave it, which may be anything
    arguments = [] if isinstance(given, str) or not isinstance(given, Iterable) else list(given)
    if not arguments:
        raise InvalidJob("command must be a non-empty list of arguments, e.g. ['python', 'fit.py']"
                         " (use ['sh', '-c', '...'] for a shell line)")
    spec.command = [check_text("command argument", a if isinstance(a, str) else str(a), 1 << 20,
                               os_string=True) for a in arguments]


def _check_code(spec: JobSpec) -> None:
    spec.code = check_cell(check_text("code", spec.code, 16 << 20))


def _check_payload(spec: JobSpec) -> None:
    """A function job's body is the cloudpickled call: it is only unpickled where it runs."""


def _check_experiment(spec: JobSpec) -> None:
    experiment = spec.experiment or {}
    target = experiment.get("target", "")
    if not isinstance(target, str) or not _TARGET_RE.match(target):
        raise InvalidJob(f"an experiment names its class as 'module:Class', not {target!r}")
    experiment["config"] = plain_json(experiment.get("config") or {}, "config")
    if "hardware" not in spec.resources:      # it runs against the station
        spec.resources = [*spec.resources, "hardware"]


# ---- what a job runs, in one line ------------------------------------------------------
def _describe_command(job: JobSettings, width: int | None) -> str:
    """The argv as a shell would read it back."""
    argv = job.command or []
    if width is not None:       # bounds the work on a huge command: what is past width is cut
        argv = [arg[:width] for arg in argv[:width // 2 + 1]]    # each takes 2 columns or more
    return " ".join(shlex.quote(arg) for arg in argv)


def _describe_code(job: JobSettings, width: int | None) -> str:
    """The first line of the code, with " ..." when more follow."""
    lines = (job.code or "").strip().splitlines()
    return (lines[0] + (" ..." if len(lines) > 1 else "")) if lines else ""


def _describe_call(job: JobSettings, width: int | None) -> str:
    """Nothing: the callable is pickled (never unpickled here) and its name is not recorded."""
    return ""


def _describe_experiment(job: JobSettings, width: int | None) -> str:
    """Its module:Class target."""
    return str((job.experiment or {}).get("target") or "")


# ---- JSON bodies ----------------------------------------------------------------------
def _argv_json(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(a, str) for a in value)


ARGV_JSON = JsonBody(list[str], "a list of strings",
                     'a non-empty list of strings, e.g. ["python", "fit.py"]', _argv_json)
CODE_JSON = JsonBody(str, "a string", "a string", lambda value: isinstance(value, str))
EXPERIMENT_JSON = JsonBody(str, 'a "module:Class" string, with "config" beside it',
                           'a string naming the class, e.g. "jobmagics.experiments:Rabi"',
                           lambda value: isinstance(value, str))


# ---- the registry ---------------------------------------------------------------------
COMMAND = Kind(
    name="command", keyword="command", example="command=[...]",
    body=lambda spec: spec.command, check_body=_check_command,
    describe_body=_describe_command, json_body=ARGV_JSON, forkable=False,
    records_interpreter=False, takes_variables=False, live_output="log", error_ends_log=False)
PYTHON = Kind(
    name="python", keyword="code", example="code='...'",
    body=lambda spec: spec.code, check_body=_check_code,
    describe_body=_describe_code, json_body=CODE_JSON, forkable=True,
    records_interpreter=True, takes_variables=True, live_output="outputs", error_ends_log=True,
    in_instrument_kernel=True)
FUNCTION = Kind(
    name="function", keyword="function", example="function=f",
    body=lambda spec: spec.payload, check_body=_check_payload,
    describe_body=_describe_call, forkable=True,
    json_body=None,     # a pickle: nobody unpickles what another account wrote
    records_interpreter=True, takes_variables=False, live_output="log", error_ends_log=True)
EXPERIMENT = Kind(
    name="experiment", keyword="experiment", example="experiment='module:Class'",
    body=lambda spec: spec.experiment, check_body=_check_experiment,
    describe_body=_describe_experiment, forkable=False,
    json_body=EXPERIMENT_JSON,     # its config comes beside it (server.bodies.BESIDE_BODIES)
    records_interpreter=False, takes_variables=False, live_output="log", error_ends_log=True,
    in_instrument_kernel=True)

KINDS: Mapping[str, Kind] = MappingProxyType(
    {k.name: k for k in (COMMAND, PYTHON, FUNCTION, EXPERIMENT)})


def kind(name: object) -> Kind:
    """The registered kind called ``name``; ``InvalidJob`` for any other name."""
    found = KINDS.get(name) if isinstance(name, str) else None
    if found is None:
        raise InvalidJob(f"unknown job kind {name!r}; kinds are {', '.join(KINDS)}")
    return found


def kind_of_submission(bodies: Mapping[str, object]) -> Kind:
    """The kind of a submission, from ``Queue.submit``'s body keywords (keyword -> value,
    None: not given): exactly one kind's body must be given."""
    given = [k for k in KINDS.values() if bodies.get(k.keyword) is not None]
    if len(given) != 1:
        raise InvalidJob(f"give exactly one of {one_of([k.example for k in KINDS.values()])}")
    return given[0]


def one_of(words: Sequence[str]) -> str:
    """``a, b or c``."""
    return " or ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else "".join(words)


def describe(job: JobSettings, width: int | None = None) -> str:
    """``Kind.describe`` of the job's kind; a job of an unknown kind (a row written by hand)
    is described by its kind's name."""
    found = KINDS.get(job.kind)
    return found.describe(job, width) if found is not None else cut(f"({job.kind})", width)


def live_source(name: str, outputs_exist: bool, terminal: bool) -> LiveOutput | None:
    """``Kind.live_source`` of the kind called ``name``. A job of an unknown kind (a row
    written by hand; the worker fails it) is shown from whatever file it has."""
    found = KINDS.get(name)
    if found is None:
        return "outputs" if outputs_exist else "log"
    return found.live_source(outputs_exist, terminal)
