"""``Queue.move``/``Queue.update``: reordering and editing jobs that have not started.

A move reorders a waiting or pending job among the waiting and pending jobs of its priority
(``top``: next to start among them; ``bottom``: behind all of them, jobs submitted later still
after it; ``before``/``after`` a job of the same priority waiting for the same resources). An
update changes editable settings (those declared ``editable`` in ``model.JobSettings``) and
keys of an experiment's config; the edited job is validated as a submission is. Only a job's
owner or a queue admin may do either; each is an event in the job's history."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast, overload

from .errors import InvalidJob, JobNotFound
from .fields import editable, flag_arguments, from_arguments, settings
from .job import Job
from .model import JobRecord, JobSettings, check_job_id
from .queue_part import QueuePart
from .store.edits import CONFIG, check_editable, edited_spec, value_text
from .store.rules import EDITABLE_STATES

if TYPE_CHECKING:
    from .client import Queue


def where_to(top: bool = False, bottom: bool = False, before: object = None,
             after: object = None) -> tuple[str, str | None]:
    """``("top", None)``, ..., ``("before", ID)``: exactly one place must be given."""
    given = [(name, value) for name, value in (("top", top), ("bottom", bottom),
                                               ("before", before), ("after", after))
             if value not in (None, False)]
    if len(given) != 1:
        raise InvalidJob("say where to move it: exactly one of top=True, bottom=True, before=ID,"
                         " after=ID")
    name, value = given[0]
    if name in ("top", "bottom"):
        if value is not True:
            raise InvalidJob(f"{name} is True or not given, not {value!r}")
        return name, None
    other = value.id if isinstance(value, Job) else value
    if not isinstance(other, str):
        raise InvalidJob(f"{name} names a job id, not {value!r}")
    return name, check_job_id(other)


def field_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Editable settings by keyword -> by field name (an unknown keyword refused)."""
    allowed = editable(JobSettings)
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise InvalidJob(f"{unknown[0]!r} cannot be changed; what can: {', '.join(allowed)}"
                         f" and {CONFIG} (an experiment's)")
    values = {allowed[key].name: value for key, value in changes.items()}
    if isinstance(values.get("resources"), str):
        values["resources"] = [values["resources"]]
    return values


class EditsAPI(QueuePart):
    """A part of ``Queue``: ``move`` and ``update`` (``Job.move``/``Job.update`` call them)."""

    def move(self, job_id: str, *, top: bool = False, bottom: bool = False,
             before: str | Job | None = None, after: str | Job | None = None) -> Job:
        """Put a waiting or pending job ``top`` (next to start among the jobs of its priority),
        ``bottom`` (behind them all), or ``before``/``after`` another job of the same priority
        waiting for the same resources. Returns the job."""
        where, other = where_to(top, bottom, before, after)
        record = self.store.move(check_job_id(job_id), where, other, self.user,
                                 manager=self.is_service_account)
        return Job(cast("Queue", self), record.id, record)

    @overload
    def update(self, job_ids: str, *, config: Mapping[str, Any] | None = None,
               **changes: Any) -> Job: ...

    @overload
    def update(self, job_ids: Sequence[str], *, config: Mapping[str, Any] | None = None,
               **changes: Any) -> list[Job]: ...

    def update(self, job_ids: str | Sequence[str], *, config: Mapping[str, Any] | None = None,
               **changes: Any) -> Job | list[Job]:
        """Change settings of waiting or pending jobs: ``priority``, ``name``, ``timeout``,
        ``retries``, ``retry_delay``, ``resources``, ``cpus``, ``memory``, ``notify``,
        ``notify_on`` (None clears one that may be empty, e.g. ``timeout=None``), and keys of
        an experiment's ``config``. An array's id stands for its waiting and pending
        elements. Several ids: all change, or none (the first problem is raised, naming its
        job). Returns the job (a list of the jobs changed for a list of ids)."""
        one = isinstance(job_ids, str)
        ids = [job_ids] if isinstance(job_ids, str) else list(job_ids)
        if config is not None and not isinstance(config, Mapping):
            raise InvalidJob(f"config must be a mapping (a dict), not {type(config).__name__}")
        values = field_changes(changes)
        checked = [check_job_id(i) for i in ids]
        for job_id in checked:
            self._vet_edit(job_id, values, config)
        records = self.store.update(checked, values, dict(config) if config else None,
                                    self.user, manager=self.is_service_account)
        jobs = [Job(cast("Queue", self), r.id, r) for r in records]
        return jobs[0] if one else jobs

    def _vet_edit(self, job_id: str, values: Mapping[str, Any],
                  config: Mapping[str, Any] | None) -> None:
        """The edited job goes through the submission's checks here, where the client can
        import an experiment's class (the store checks again what needs no import)."""
        try:
            record = self.store.get(job_id)
        except JobNotFound:
            if not self.store.is_array(job_id):
                return                    # the store says so
            waiting = self.store.elements(job_id, states=list(EDITABLE_STATES), limit=1)
            if not waiting:
                return                    # the store says why
            record = waiting[0]           # its elements share all but their item
        if record.user != self.user and not self.is_service_account and \
                self.user not in self.store.setting("admins", []):
            return                        # the store refuses: not yours to change
        check_editable(record)
        spec = edited_spec(record, values, config)
        if record.kind == "function":
            return                        # its body is a pickle: nothing more to check
        self._spec(**_bodies(record, spec),
                   **{f.keyword: getattr(spec, f.name) for f in settings(JobSettings)})


def _bodies(record: JobRecord, spec: Any) -> dict[str, Any]:
    if record.kind == "experiment":
        experiment = spec.experiment or {}
        return {"experiment": experiment.get("target"), "config": experiment.get("config")}
    return {"command": spec.command, "code": spec.code}


# ---- what the command lines (``jobmagics set``, ``%job set``) share --------------------------
MOVE_HELP = ("put a waiting or pending job elsewhere in line among the waiting and pending jobs"
             " of its priority: --top (next to start among them: no need to invent priorities),"
             " --bottom (behind them all; jobs submitted later still come after it), --before or"
             " --after ID2 (a job of the same priority waiting for the same resources)")
SET_HELP = ("change settings of waiting or pending jobs (yours, or any as a queue admin; an"
            " array's id: its waiting and pending elements): all of them, or none if one cannot"
            " be changed; each change is in the job's history")
CONFIG_HELP = ("set KEY of an experiment's config to VALUE (JSON, e.g. 0.5 or [1,2]; else text);"
               " repeatable")


def edit_flag_arguments() -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """``set``'s flags: those of the editable settings, as submit's are derived."""
    allowed = editable(JobSettings)
    arguments = []
    for flags, kwargs in flag_arguments(JobSettings):
        if kwargs["dest"] in allowed:
            field = allowed[kwargs["dest"]]
            kwargs = kwargs | {"help": field.declared.help + (
                "; repeatable, or a,b (the new list)" if kwargs.get("action") == "append" else "")}
            arguments.append((flags, kwargs))
    return arguments


def changes_from_arguments(namespace: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """``Queue.update`` keywords of the flags given to ``set``, and the config items of
    ``--config KEY=VALUE``."""
    changes = from_arguments(JobSettings, namespace)
    config = {}
    for item in getattr(namespace, "config", None) or []:
        key, sep, text = str(item).partition("=")
        if not sep or not key:
            raise InvalidJob(f"--config {item!r}: write it as KEY=VALUE")
        try:
            config[key] = json.loads(text)
        except ValueError:
            config[key] = text
    return changes, config


def changed_text(record: JobRecord, changes: Mapping[str, Any],
                 config: Mapping[str, Any]) -> str:
    """``priority 5, timeout 600, config amplitude 0.5``: what was asked, as the job has it."""
    allowed = editable(JobSettings)
    parts = [f"{key} {value_text(getattr(record, field.name), field.name)}"
             for key, field in allowed.items() if key in changes]
    held = (record.experiment or {}).get("config", {})
    parts += [f"config {key} {value_text(held.get(key))}" for key in config]
    return ", ".join(parts)


def set_lines(ids: Sequence[str], jobs: Sequence[Job], changes: Mapping[str, Any],
              config: Mapping[str, Any]) -> list[str]:
    """What ``set`` answers: a line per job, and one per array with how many of its elements
    changed (``JOB-X: 12 elements: priority 5``)."""
    arrays: dict[str, list[Job]] = {}
    lines = []
    for job in jobs:
        array_id = job.last_read.array_id
        if array_id is not None and array_id in ids and job.id not in ids:
            arrays.setdefault(array_id, []).append(job)
        else:
            lines.append(f"{job.id}: {changed_text(job.last_read, changes, config)}")
    for array_id, elements in arrays.items():
        count = f"{len(elements)} element{'s' if len(elements) != 1 else ''}"
        lines.append(f"{array_id}: {count}:"
                     f" {changed_text(elements[0].last_read, changes, config)}")
    return lines
