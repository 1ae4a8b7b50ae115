"""The registry of job kinds: one ``Kind`` for each of ``command``, ``python``, ``function``
and ``experiment``.

A ``Kind`` says what a kind of job is wherever it runs: the ``Queue.submit`` keyword that
carries its body, how that body is checked, whether the worker's zygote may fork it, where
its live output comes from and how its failure is described. How a worker executes each kind
(the runner of a child process, the step in a Jupyter kernel) is ``kernel_worker.kinds``; a
test checks that every kind here has its way to run there.

Adding a kind: one ``Kind`` below (its body check beside it) and its entry in
``kernel_worker.kinds``. A kind that is not registered is refused at every door: submission
(``JobSpec.validate``) and the worker (a row written by hand fails with the same message).
No I/O here; ``model`` imports this module, so it imports the model only for type checking."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal

from .checks import check_cell, check_text, plain_json
from .errors import InvalidJob

if TYPE_CHECKING:
    from .model import JobSpec

__all__ = ["KINDS", "Kind", "LiveOutput", "kind", "kind_of_submission", "live_source"]

# Where a job's live output is read from: its captured rich outputs (``outputs/<id>.jsonl``,
# written by the kernel that runs it) or the text of its log (``logs/<id>.log``).
LiveOutput = Literal["outputs", "log"]
_TARGET_RE = re.compile(r"^[\w.]+:[\w.]+$")


@dataclass(frozen=True)
class Kind:
    """Everything about one kind of job that does not depend on where it runs."""

    name: str
    keyword: str                              # the Queue.submit keyword that carries the body
    example: str                              # that keyword as a user writes it, for messages
    body: Callable[[JobSpec], object]         # the spec's body (None: not given)
    check_body: Callable[[JobSpec], None]     # checks (and normalises) a given body
    forkable: bool                            # the worker's pre-imported zygote may fork it
    records_interpreter: bool                 # runs the submitter's Python (options.python)
    takes_variables: bool                     # push= loads variables into its namespace
    live_output: LiveOutput                   # where its live output comes from (see live_source)
    error_ends_log: bool                      # its own error is the last line of its log

    def check(self, spec: JobSpec) -> None:
        """Raise ``InvalidJob`` unless ``spec`` carries a valid body of this kind."""
        if self.body(spec) is None:
            raise InvalidJob(f"a {self.name} job needs its {self.keyword}")
        self.check_body(spec)

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


# ---- the registry ---------------------------------------------------------------------
COMMAND = Kind(
    name="command", keyword="command", example="command=[...]",
    body=lambda spec: spec.command, check_body=_check_command, forkable=False,
    records_interpreter=False, takes_variables=False, live_output="log", error_ends_log=False)
PYTHON = Kind(
    name="python", keyword="code", example="code='...'",
    body=lambda spec: spec.code, check_body=_check_code, forkable=True,
    records_interpreter=True, takes_variables=True, live_output="outputs", error_ends_log=True)
FUNCTION = Kind(
    name="function", keyword="function", example="function=f",
    body=lambda spec: spec.payload, check_body=_check_payload, forkable=True,
    records_interpreter=True, takes_variables=False, live_output="log", error_ends_log=True)
EXPERIMENT = Kind(
    name="experiment", keyword="experiment", example="experiment='module:Class'",
    body=lambda spec: spec.experiment, check_body=_check_experiment, forkable=False,
    records_interpreter=False, takes_variables=False, live_output="log", error_ends_log=True)

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
        examples = [k.example for k in KINDS.values()]
        raise InvalidJob(f"give exactly one of {', '.join(examples[:-1])} or {examples[-1]}")
    return given[0]


def live_source(name: str, outputs_exist: bool, terminal: bool) -> LiveOutput | None:
    """``Kind.live_source`` of the kind called ``name``. A job of an unknown kind (a row
    written by hand; the worker fails it) is shown from whatever file it has."""
    found = KINDS.get(name)
    if found is None:
        return "outputs" if outputs_exist else "log"
    return found.live_source(outputs_exist, terminal)
