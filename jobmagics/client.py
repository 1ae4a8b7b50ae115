"""The ``Queue`` and ``Job`` API that the CLI, magics, widgets and server all call."""
from __future__ import annotations

import dataclasses
import functools
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import kinds, paths
from .arrays import ArraySpec, check_parallel, split_element_id, sweep_points
from .chunks import auto_chunksize, chunked, run_chunk, unchunked
from .edits import EditsAPI
from .errors import InvalidJob, JobNotFound, PermissionDenied, QueueError
from .fields import by_keyword
from .job import Job, JobPage
from .job_array import JobArray, array_elements_in_order, element_spec
from .model import (
    TERMINAL,
    JobOptions,
    JobRecord,
    JobSettings,
    JobSpec,
    State,
    WorkerRecord,
    check_job_id,
    check_text,
    parse_states,
)
from .notifications import NotificationsAPI, with_notify_defaults
from .retention import RetentionAPI
from .runtime import LEASE_S
from .schedules import SchedulesAPI
from .store import Store

if TYPE_CHECKING:
    from .configs import ConfigStore
    from .service.remote import RemoteStore


class Queue(EditsAPI, SchedulesAPI, RetentionAPI, NotificationsAPI):
    """A job queue: a directory holding ``jobs.db``, ``logs/``, ``data/``, ``outputs/``."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 busy_timeout: float | None = None) -> None:
        """``busy_timeout``: seconds a write waits for another process's write lock before
        ``QueueBusy`` (default 60; the Jupyter server uses a few seconds)."""
        _check_file_name(path)
        self.path: Path = paths.resolve_queue_dir(path)
        self.layout = paths.ensure_layout(self.path)
        self.store: Store | RemoteStore
        if self.through_service:
            from .service.remote import RemoteStore  # a socket client, for system queues only
            self.store = RemoteStore(self.layout)
        else:
            self.store = (Store(self.layout) if busy_timeout is None
                          else Store(self.layout, busy_timeout=busy_timeout))
        self.user: str = paths.current_user()
        self.host: str = paths.current_host()

    def __repr__(self) -> str:
        return f"Queue({str(self.path)!r})"

    @property
    def through_service(self) -> bool:
        """Does this process reach the queue through its service? (a system queue, opened by
        any account but the service's own)"""
        return self.layout.is_system() and os.geteuid() != self.layout.service_uid()

    def direct_store(self) -> Store:
        """The database itself, for the processes that write it directly (workers, the
        service, maintenance); ``PermissionDenied`` for a client of a system queue."""
        if isinstance(self.store, Store):
            return self.store
        raise PermissionDenied(f"only the service's account works the system queue {self.path}"
                               " directly")

    @property
    def configs(self) -> ConfigStore:
        """Versioned named configs of this queue (``save_config``, ``load_config``, history)."""
        from .configs import ConfigStore  # hashlib and friends: only for who uses configs
        return ConfigStore(self)

    def _repr_html_(self) -> str:
        # the display layer sits above the client (it reads queues): imported when shown
        from .display import queue_html
        return queue_html(self)

    def _ipython_display_(self) -> None:
        """Shown in a notebook (``q``): the live queue panel (``widgets.live_display``, found
        by name: the widgets import the client)."""
        import importlib
        importlib.import_module(f"{__package__}.widgets.live_display").show(self)

    # ---- submitting -------------------------------------------------------------------
    def submit(self, command: Sequence[str] | None = None, *, code: str | None = None,
               function: Callable[..., Any] | None = None, args: Sequence[Any] = (),
               kwargs: Mapping[str, Any] | None = None, experiment: str | None = None,
               config: Mapping[str, Any] | None = None, **options: Any) -> Job:
        """Submit one job: a ``command`` (argv list), python ``code``, a ``function`` call, or an
        ``experiment`` ("module:Class" with a JSON ``config``). See ``JobSpec`` for options."""
        spec, payload = self._spec(command=command, code=code, function=function, args=args,
                                   kwargs=kwargs, experiment=experiment, config=config, **options)
        job_id = self.store.submit([spec], self.user, self.host, [payload])[0]
        return Job(self, job_id)

    def submit_many(self, submissions: Iterable[Mapping[str, Any]]) -> list[Job]:
        """Submit several jobs in one transaction: all of them are queued, or none."""
        built = [self._spec(**dict(s)) for s in submissions]
        if not built:
            return []
        ids = self.store.submit([s for s, _ in built], self.user, self.host, [p for _, p in built])
        return [Job(self, i) for i in ids]

    def submit_array(self, command: Sequence[str] | None = None, *, code: str | None = None,
                     function: Callable[..., Any] | None = None,
                     experiment: str | None = None, config: Mapping[str, Any] | None = None,
                     items: Iterable[Any] | None = None, indexes: Sequence[int] | None = None,
                     parallel: int | None = None, push: Mapping[str, Any] | None = None,
                     extend: JobArray | str | None = None, **options: Any) -> JobArray:
        """Submit one array: an element job per item, all in one transaction, sharing one id.

        Each element gets its item: ``{item}`` and ``{index}`` in a command's arguments (also
        inside a longer one, ``out-{index}.h5``; ``$JOBMAGICS_ARRAY_INDEX`` in its
        environment), the variables ``item`` and ``index`` in python ``code`` (and, for an
        item that is a dict of names, each name), the argument of ``function``, the config
        entries an ``experiment``'s item (a dict) sets over ``config``. ``indexes`` (default
        0..N-1) number the elements; ``parallel`` caps how many run at once, across all
        workers. ``extend``: add the elements to that array of yours (numbered after its
        last; its throttle applies). Other keywords are ``submit``'s options, the same for
        every element."""
        listed = list(items) if items is not None else None
        if listed is None:
            if indexes is None:
                raise InvalidJob("submit_array needs items= (one per element) or indexes=")
            listed = list(indexes)
        array = ArraySpec(indexes=list(range(len(listed))) if indexes is None else list(indexes),
                          parallel=check_parallel(parallel)).validate(len(listed))
        if extend is not None:
            array.extend = check_job_id(extend.id if isinstance(extend, JobArray) else extend)
        first, _ = self._spec(command=command, code=code, function=function,
                              experiment=experiment, config=config, **options)
        specs, payloads = [], []
        for index, item in zip(array.indexes, listed, strict=True):
            spec, blob = element_spec(first, index, item, function=function, push=push)
            specs.append(spec)
            payloads.append(blob)
        if first.experiment is not None:    # each element's config; the class found once
            from .experiments.checking import check_elements
            check_elements(first, specs)
        ids = self.store.submit(specs, self.user, self.host, payloads, array)
        split = split_element_id(ids[0])
        assert split is not None
        return JobArray(self, split[0])

    def sweep(self, experiment: str, *, base: Mapping[str, Any] | None = None,
              over: Mapping[str, Sequence[Any]], parallel: int | None = None,
              **options: Any) -> JobArray:
        """An experiment run at every point of a grid: ``over={"amplitude": [0.1, 0.2]}`` (several
        names: every combination, the last name varying fastest), each point's values set over
        ``base``. One element per point, each with its own data file and config snapshot;
        ``jobmagics.data.load(array)`` reads them as one table."""
        return self.submit_array(experiment=experiment, config=base, items=sweep_points(over),
                                 parallel=parallel, **options)

    def map(self, function: Callable[..., Any], iterable: Iterable[Any], *,
            parallel: int | None = None, chunksize: int | None = None,
            **options: Any) -> Iterator[Any]:
        """``function(item)`` for every item, run by the queue's workers, yielded in order; an
        item's exception is raised when it is reached. The items go as one array of chunks
        (``chunksize`` items per job; None: a few chunks per slot of the live workers), all
        submitted before this returns; each chunk's results are kept in the queue."""
        items = [(item,) for item in iterable]
        array = self.map_array(function, items, parallel=parallel, chunksize=chunksize,
                               **options)
        return unchunked(job.result() for job in array_elements_in_order(array))

    def map_array(self, function: Callable[..., Any], items: Sequence[tuple[Any, ...]], *,
                  parallel: int | None = None, chunksize: object = None,
                  **options: Any) -> JobArray:
        """The array of chunks that ``map`` waits on: ``function(*args)`` for each ``args``."""
        if not callable(function):
            raise InvalidJob(f"map needs a callable, not {type(function).__name__}")
        from .payloads import dump_function  # the error names the function, not a partial
        dump_function(function, (), {})
        if not items:
            raise InvalidJob("map needs at least one item")
        if chunksize is None:
            slots = parallel or sum(w["slots"] for w in self.workers()) or 1
            chunksize = auto_chunksize(len(items), slots)
        elif isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1:
            raise InvalidJob(f"chunksize must be a whole number >= 1, not {chunksize!r}")
        options.setdefault("name", getattr(function, "__name__", None))
        return self.submit_array(function=functools.partial(run_chunk, function),
                                 items=chunked(items, chunksize), parallel=parallel, **options)

    def _spec(self, *, command: Sequence[str] | None = None, code: str | None = None,
              function: Callable[..., Any] | None = None, args: Sequence[Any] = (),
              kwargs: Mapping[str, Any] | None = None, experiment: str | None = None,
              config: Mapping[str, Any] | None = None, push: Mapping[str, Any] | None = None,
              **given: Any) -> tuple[JobSpec, bytes | None]:
        """The validated spec of one submission. ``given``: the settings of ``JobSettings``
        by keyword (None: the default)."""
        for label, mapping in (("env", given.get("env")), ("kwargs", kwargs), ("config", config)):
            if mapping is not None and not isinstance(mapping, Mapping):
                raise InvalidJob(f"{label} must be a mapping (a dict),"
                                 f" not {type(mapping).__name__}")
        kind = kinds.kind_of_submission(
            {"command": command, "code": code, "function": function, "experiment": experiment})
        if command is not None and not isinstance(command, (str, list, tuple)):
            raise InvalidJob("command must be a list of arguments, e.g. ['python', 'fit.py'],"
                             f" not {command!r}")
        values = _settings(given)
        cwd = values.get("cwd")
        values["cwd"] = os.fspath(cwd) if cwd is not None else os.getcwd()
        from .payloads import dump_function, dump_variables  # cloudpickle: only for these jobs
        payload = dump_function(function, args, kwargs or {}) if function is not None else None
        if push:          # variables loaded into a python job's namespace before its code runs
            if not kind.takes_variables:
                raise InvalidJob("push= sends variables into python code jobs only")
            payload = dump_variables(list(push), push)
        options = JobOptions.of(values.get("options"))
        if kind.records_interpreter and options.python is None:   # (not the caller's object)
            options = dataclasses.replace(options, python=sys.executable)
        values["options"] = options
        arguments = list(command) if command is not None and not isinstance(command, str) \
            else command        # a string is kept, for the kind's check to refuse
        spec = JobSpec(
            kind=kind.name, command=arguments,  # type: ignore[arg-type]
            code=code, payload=payload,
            experiment={"target": experiment, "config": dict(config or {})} if experiment else None,
            **values)
        spec.validate()
        if spec.experiment is not None:     # its class and config, as the worker will check
            from .experiments.checking import check_at_submit
            check_at_submit(spec.experiment, spec.cwd)
        return with_notify_defaults(spec), payload

    # ---- reading ----------------------------------------------------------------------
    def get(self, job_id: str) -> Job:
        """The job with this id (an array's element too: ``JOB-20261129-00042_7``)."""
        try:
            record = self.read_record(check_job_id(job_id))
        except JobNotFound:
            if self.store.is_array(job_id):
                raise JobNotFound(job_id, f"{job_id} is an array, not one job: q.array("
                                          f"{job_id!r}) (or q.lookup) gets it") from None
            raise
        return Job(self, job_id, record)

    def array(self, array_id: str) -> JobArray:
        """The array with this id."""
        return JobArray(self, array_id, self.store.array(check_job_id(array_id)))

    def lookup(self, job_id: str) -> Job | JobArray:
        """A job or an array, whichever the id names (the doors' ``status``, ``wait``)."""
        try:
            return self.get(job_id)
        except JobNotFound:
            if self.store.is_array(job_id):
                return self.array(job_id)
            raise

    def arrays(self, user: str | None = None, active: bool = True,
               limit: int | None = 50) -> list[JobArray]:
        """Arrays (of ``user``), newest first; ``active``: those with elements not ended."""
        records = self.store.arrays(user=_text_filter("user", user), active=active,
                                    limit=_limit(limit))
        return [JobArray(self, r.id, r) for r in records]

    def read_record(self, job_id: str) -> JobRecord:
        """The job as stored now, marked if its worker is gone (``worker_lost_at``)."""
        return self.mark_lost_workers([self.store.get(job_id)])[0]

    def jobs(self, state: str | Sequence[str] | None = None, user: str | None = None,
             name: str | None = None, since: float | None = None, limit: int | None = 100,
             offset: int = 0, elements: bool = True) -> list[Job]:
        """Jobs of every user, newest first, filtered (without ``elements``: not the elements
        of arrays)."""
        records = self.store.find(states=parse_states(state), user=_text_filter("user", user),
                                  name=_text_filter("name", name), since=since,
                                  limit=_limit(limit), offset=_limit(offset, "offset") or 0,
                                  elements=bool(elements))
        return [Job(self, r.id, r) for r in self.mark_lost_workers(records)]

    def count(self, state: str | Sequence[str] | None = None, user: str | None = None,
              name: str | None = None, since: float | None = None,
              elements: bool = True) -> int:
        return self.store.count(states=parse_states(state), user=_text_filter("user", user),
                                name=_text_filter("name", name), since=since,
                                elements=bool(elements))

    def queue(self, limit: int | None = 100, offset: int = 0, user: str | None = None,
              elements: bool = True) -> JobPage:
        """Waiting, pending and running jobs (of everyone, or of ``user``): running first, then
        pending in the order they will start (priority, then submission), then waiting. At most
        ``limit`` (None: all) from ``offset``; the page's ``counts`` (per state), ``total`` and
        ``more`` say how many there are in all. Without ``elements``, the elements of arrays
        are left out of the page and its counts, and the page's ``arrays`` lists the active
        arrays instead (one row each, as the sidebar and the queue panel show them)."""
        limit, offset = _limit(limit), _limit(offset, "offset") or 0
        user = _text_filter("user", user)
        records = self.mark_lost_workers(self.store.active(limit, offset, user, elements))
        jobs = [Job(self, r.id, r) for r in records]
        counts = self.store.active_counts(user)
        if elements:
            return JobPage(jobs, counts, offset)
        arrays = self.arrays(user=user, active=True, limit=None)
        for array in arrays:           # the page counts jobs; the arrays are beside it
            for state in counts:
                counts[state] = max(0, counts[state] - array.last_read.counts.get(state, 0))
        return JobPage(jobs, counts, offset, arrays)

    def history(self, user: str | None = None, state: str | Sequence[str] | None = None,
                limit: int | None = 50, elements: bool = True) -> list[Job]:
        """Finished jobs (completed, failed, cancelled, timeout), newest first (without
        ``elements``: not the elements of arrays)."""
        states = parse_states(state) or sorted(TERMINAL, key=lambda s: s.value)
        bad = [s.value for s in states if s not in TERMINAL]
        if bad:
            raise InvalidJob(f"history holds finished jobs only; {bad[0]} is not a finished state")
        return self.jobs(state=states, user=user, limit=limit, elements=elements)

    def mark_lost_workers(self, records: list[JobRecord]) -> list[JobRecord]:
        """Set ``worker_lost_at`` of each running job: when its worker was last known alive if
        that worker is gone (its process ended; on another host, its lease ran out), else None.
        One read of the workers table for the whole list. The next worker to look recovers it."""
        running = [r for r in records if r.state is State.RUNNING]
        if not running:
            return records
        workers = {w.id: w for w in self.store.workers()}
        now = time.time()
        for record in running:
            worker = workers.get(record.worker or "")
            if worker is None:
                record.worker_lost_at = self._unregistered_since(record)
            elif _worker_alive(worker, now):
                record.worker_lost_at = None
            else:
                lease = 0.0 if worker.host == self.host else LEASE_S
                record.worker_lost_at = worker.heartbeat_at + lease
        return records

    def _unregistered_since(self, record: JobRecord) -> float | None:
        """A running job whose worker is not in the table: that worker deregistered, or was
        recovered, after we read the job (then the job has moved on), or it is truly gone."""
        now = self.store.get(record.id)
        if now.state is State.RUNNING and now.worker == record.worker:
            return record.started_at or time.time()
        return None

    def events(self, job_id: str) -> list[dict[str, Any]]:
        return self.store.events(check_job_id(job_id))

    def stats(self) -> dict[str, Any]:
        counts = self.store.state_counts()
        records = self.store.workers()
        alive = _alive_ids(records)
        return {
            "queue": str(self.path),
            "states": {s.value: counts.get(s.value, 0) for s in State},
            "total": sum(counts.values()),
            "resources": self.store.resources(),
            "workers": [w.to_dict() | {"alive": w.id in alive} for w in records],
            "paused": self.store.setting("paused") == 1,
            "admins": self.admins(),
        }

    def workers(self, alive_only: bool = True) -> list[dict[str, Any]]:
        records = self.store.workers()
        alive = _alive_ids(records) if alive_only else set()
        return [w.to_dict() for w in records if not alive_only or w.id in alive]

    def data_version(self) -> int:
        """A number that changes whenever anyone commits to this queue (for cheap polling)."""
        return self.store.data_version()

    def change_version(self) -> int:
        """A number that changes whenever what a live view shows changes (jobs, arrays,
        resources, settings, schedules, the workers' list); unlike ``data_version`` not with
        every worker's heartbeat."""
        return self.store.change_version()

    def change_versions(self) -> dict[str, int]:
        """``change_version`` as ``"n"``, and a count per part of a view (``"ended"``: the
        history; ``"schedules"``), each moving only when that part changed."""
        return self.store.change_versions()

    # ---- acting on jobs ---------------------------------------------------------------
    def apply(self, action: str, job_ids: Sequence[str]) -> list[tuple[str, State | None]]:
        """``cancel``, ``retry``, ``hold``, ``release`` or ``delete`` every job in ``job_ids``, or
        none: every id is checked first (it exists, you may act on it, its state allows the
        move) in one transaction, and the first problem is raised naming its id. Returns each
        id with its new state (``running`` for a running job asked to stop, None if deleted)."""
        if isinstance(job_ids, str) or not isinstance(job_ids, Sequence):
            raise InvalidJob(f"job_ids must be a list of job ids, not {job_ids!r}")
        # a system queue's own account (its service's: root) may act on anyone's job, as the
        # service lets admins; in other queues the admins list says who may
        return self.store.apply(action, [check_job_id(i) for i in job_ids], self.user,
                                manager=self.is_service_account)

    def cancel(self, job_id: str) -> State:
        state = self.apply("cancel", [job_id])[0][1]
        assert state is not None
        return state

    def retry(self, job_id: str) -> Job | JobArray:
        """Run a failed, cancelled or timed-out job again (an array: its such elements)."""
        self.apply("retry", [job_id])
        return self.lookup(job_id)

    def hold(self, job_id: str) -> None:
        self.apply("hold", [job_id])

    def release(self, job_id: str) -> None:
        self.apply("release", [job_id])

    def delete(self, job_id: str) -> None:
        self.apply("delete", [job_id])

    def pause(self, resource: str | None = None) -> None:
        """Stop starting jobs (on one resource, or all); running jobs carry on."""
        self._require_manager("pause")
        self.store.set_paused(resource, True)

    def resume(self, resource: str | None = None) -> None:
        self._require_manager("resume")
        self.store.set_paused(resource, False)

    # ---- administration ---------------------------------------------------------------
    def admins(self) -> list[str]:
        return list(self.store.setting("admins", []))

    def is_admin(self, user: str | None = None) -> bool:
        return (user or self.user) in self.admins()

    # Three lists of names the admins keep: the admins; the instrument operators, who run their
    # own python in the instrument's shared kernel; the experiments everyone else may run there
    # (enforced in a system queue, by its service and worker). Each change checks every name
    # given before it writes any.
    def add_admin(self, *users: str) -> None:
        self._change_list("admins", users, add=True)

    def remove_admin(self, *users: str) -> None:
        self._change_list("admins", users, add=False)

    def operators(self) -> list[str]:
        return list(self.store.setting("operators", []))

    def add_operator(self, *users: str) -> None:
        self._change_list("operators", users, add=True)

    def remove_operator(self, *users: str) -> None:
        self._change_list("operators", users, add=False)

    def allowed_experiments(self) -> list[str]:
        return list(self.store.setting("allowed_experiments", []))

    def allow_experiment(self, *targets: str) -> None:
        """Let everyone run these ``module:Class`` on the instrument (admins only)."""
        self._change_list("allowed_experiments", targets, add=True)

    def disallow_experiment(self, *targets: str) -> None:
        self._change_list("allowed_experiments", targets, add=False)

    def _change_list(self, key: str, names: Sequence[str], *, add: bool) -> None:
        self._require_manager(f"change the {key.replace('_', ' ')} of")
        if not names:
            raise InvalidJob(f"name at least one to {'add to' if add else 'remove from'} {key}")
        for name in names if add else ():
            _check_list_entry(key, name)
        listed = set(self.store.setting(key, []))
        self.store.set_setting(key, sorted(listed | set(names) if add else listed - set(names)))

    def may_manage(self) -> bool:
        """May this user pause and resume the queue and change its lists: its owner (root, the
        folder's owner), a queue admin, or a system queue's service account."""
        if self.through_service:         # the service decides; it lets admins
            return self.is_admin()
        return os.getuid() in (0, self.path.stat().st_uid) or self.is_admin()

    def _require_manager(self, verb: str) -> None:
        if self.through_service:
            return                       # the service decides, from the kernel's word
        if self.may_manage():
            return
        raise PermissionDenied(f"{self.user} may not {verb} this queue:"
                               " only its owner or a queue admin may")


def _listing(label: str, value: Any) -> list[Any]:
    """One item or a list of them; anything else is a user mistake, said as such."""
    if value is None:
        return []
    if isinstance(value, (str, Job)):
        return [value]
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    raise InvalidJob(f"{label} must be one name or a list of them, not {value!r}")


def _alive_ids(records: Sequence[WorkerRecord]) -> set[str]:
    now = time.time()
    return {w.id for w in records if _worker_alive(w, now)}


def _worker_alive(worker: WorkerRecord, now: float) -> bool:
    from .liveness import worker_alive  # psutil: imported when a running job is read
    return worker_alive(worker, now, LEASE_S)


def _check_file_name(path: str | os.PathLike[str] | None) -> None:
    """A path the OS can take: any bytes (argv gives them as surrogates), but no lone
    surrogate that stands for none."""
    if path is None:
        return
    try:
        os.fsencode(path)
    except UnicodeEncodeError:
        raise QueueError(f"the queue folder {os.fspath(path)!r} is not a file name (it has a lone"
                         " surrogate, which no byte stands for)") from None
    except TypeError:
        raise QueueError(f"the queue folder must be a path, not {type(path).__name__}") from None


def _text_filter(label: str, value: str | None) -> str | None:
    return None if value is None else check_text(label, value)


_shared: dict[str, Queue] = {}


def shared_queue(path: str | os.PathLike[str] | None = None) -> Queue:
    """One ``Queue`` per queue folder in this process: opening one checks the folder and the
    schema, which code that runs again and again (``run()``, ``progress()``) should not repeat."""
    key = str(paths.resolve_queue_dir(path))
    if key not in _shared:
        _shared[key] = Queue(key)
    return _shared[key]


def _settings(given: Mapping[str, Any]) -> dict[str, Any]:
    """JobSettings field -> value of the settings given by keyword (an unknown one is refused;
    None leaves the default); jobs in ``after`` become their ids."""
    known = by_keyword(JobSettings)
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise InvalidJob(f"unknown submit option {unknown[0]!r}; options are {', '.join(known)}")
    values = {known[k].name: v for k, v in given.items() if v is not None}
    if "after" in values:
        values["after"] = [a.id if isinstance(a, Job) else a
                           for a in _listing("after", values["after"])]
    if "resources" in values:
        values["resources"] = _listing("resources", values["resources"])
    return values


def _limit(limit: object, label: str = "limit") -> int | None:
    """A count or offset as given by a caller, checked (None: no limit)."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit < 1 << 62:
        raise InvalidJob(f"{label} must be a whole number >= 0, not {limit!r}")
    return limit


def _check_list_entry(key: str, name: object) -> None:
    """An account for the admins and operators, a "module:Class" for the allowed experiments."""
    if not isinstance(name, str):
        raise InvalidJob(f"{key} holds names, not {name!r}")
    if key == "allowed_experiments":
        from .experiments.loading import split_target  # the "module:Class" form only
        split_target(check_text("experiment", name))
    else:
        _check_account(name)


def _check_account(user: str) -> None:
    import pwd
    try:
        pwd.getpwnam(user)
    except KeyError:
        raise InvalidJob(f"no Unix account {user!r} on this machine") from None


__all__ = ["LEASE_S", "Job", "JobArray", "Queue", "shared_queue"]
