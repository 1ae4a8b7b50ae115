"""``Job``: a handle on one job of a queue."""
from __future__ import annotations

import codecs
import importlib
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidJob, JobFailed, WaitTimeout, WorkerLost
from .model import TERMINAL, JobRecord, State
from .runtime import LEASE_S

if TYPE_CHECKING:
    from .client import Queue
    from .data import ExperimentData
    from .job_array import JobArray
    from .messages import Notification

LIVE_DISPLAY = f"{__package__}.widgets.live_display"
_FIRST_POLL_S = 0.002
_MAX_POLL_S = 0.1
# a running job is re-read this often while waited on: a worker's death commits nothing
_LIVENESS_S = 1.0


class Job:
    """A job in a queue. Attributes read the queue when the job is not finished yet."""

    def __init__(self, queue: Queue, job_id: str, record: JobRecord | None = None) -> None:
        self.queue = queue
        self.id = job_id
        self._record = record
        # the live widget this job was last displayed as in a notebook (None: not shown live)
        self.live_view: Any = None

    def __repr__(self) -> str:
        record = self.record
        label = f" {record.name!r}" if record.name else ""
        return f"<Job {self.id}{label} {record.state.value}>"

    def _repr_html_(self) -> str:
        from .display import job_html
        return job_html(self)

    def _ipython_display_(self) -> None:
        """Shown in a notebook (however: a cell's value, ``display``, ``%job status``): its live
        widget while it runs, its final card once it ended (``widgets.live_display``; found by
        name, as the data layer is: the widgets import the client, which imports Job)."""
        importlib.import_module(LIVE_DISPLAY).show(self)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Job) and other.id == self.id
                and other.queue.path == self.queue.path)

    def __hash__(self) -> int:
        return hash((self.id, str(self.queue.path)))

    # ---- state ------------------------------------------------------------------------
    def refresh(self) -> Job:
        self._record = self.queue.read_record(self.id)
        return self

    @property
    def record(self) -> JobRecord:
        """The job as stored now (read again on every access until the job is finished)."""
        if self._record is None or self._record.state not in TERMINAL:
            self.refresh()
        assert self._record is not None
        return self._record

    @property
    def last_read(self) -> JobRecord:
        """The job as last read (by the listing that returned it, or ``refresh()``); read once
        if never. Listings show this so that one page is one moment, read once."""
        if self._record is None:
            self.refresh()
        assert self._record is not None
        return self._record

    state = property(lambda self: self.record.state,
                     doc="waiting, pending, running, completed, ...")
    name = property(lambda self: self.record.name)
    kind = property(lambda self: self.record.kind)
    user = property(lambda self: self.record.user)
    progress = property(lambda self: self.record.progress,
                        doc="0..1 as reported by the job, or None")
    stage = property(lambda self: self.record.stage)
    exit_code = property(lambda self: self.record.exit_code)
    error = property(lambda self: self.record.error)
    attempt = property(lambda self: self.record.attempt)
    priority = property(lambda self: self.record.priority)
    worker = property(lambda self: self.record.worker)
    submitted_at = property(lambda self: self.record.submitted_at)
    started_at = property(lambda self: self.record.started_at)
    finished_at = property(lambda self: self.record.finished_at)

    @property
    def done(self) -> bool:
        return self.record.state in TERMINAL

    @property
    def log_path(self) -> Path:
        return self.queue.layout.log(self.id)

    @property
    def data_path(self) -> Path:
        return self.queue.layout.data(self.id)

    @property
    def outputs_path(self) -> Path:
        return self.queue.layout.outputs(self.id)

    def to_dict(self) -> dict[str, Any]:
        """The job as last read (``refresh()`` first for the latest), with its file paths."""
        return self.last_read.to_dict() | {"log_path": str(self.log_path),
                                          "data_path": str(self.data_path),
                                          "outputs_path": str(self.outputs_path)}

    def events(self) -> list[dict[str, Any]]:
        return self.queue.events(self.id)

    # ---- waiting ----------------------------------------------------------------------
    def _pauses(self, timeout: float | None) -> Iterator[float]:
        """How long to sleep before each next look, until the job is finished (then it stops);
        a look is one cheap ``data_version`` read unless something changed."""
        deadline = None if timeout is None else time.monotonic() + timeout
        interval, seen, looked = _FIRST_POLL_S, None, 0.0
        while True:
            version = self.queue.data_version()
            running = self._record is not None and self._record.state is State.RUNNING
            if version != seen or (running and time.monotonic() - looked >= _LIVENESS_S):
                seen, looked = version, time.monotonic()
                if self.refresh().done:
                    return
                self.check_recoverable()
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(f"{self.id} is still {self.state.value} after {timeout} s")
            yield interval
            interval = min(interval * 1.5, _MAX_POLL_S)

    def check_recoverable(self) -> None:
        """Raise ``WorkerLost`` if the job (as last read) runs on a worker that has been gone
        for longer than a lease while no live worker is left to recover it. With a live worker
        it is requeued or failed within about a lease, so waiting on is right; without one
        nothing would ever happen, and a wait would hang on a state that is no longer true."""
        record = self._record
        if record is None or record.state is not State.RUNNING or record.worker_lost_at is None:
            return
        lost_for = time.time() - record.worker_lost_at
        if lost_for <= LEASE_S or self.queue.workers():
            return
        raise WorkerLost(f"{self.id} is recorded as running on worker {record.worker}, which was"
                         f" lost {lost_for:.0f} s ago, and no worker is alive to recover it: start"
                         " one (`jobmagics worker`); it requeues the job (or fails it if no"
                         " retries are left)", self.id)

    def wait(self, timeout: float | None = None) -> Job:
        """Block until the job is finished (any terminal state); returns the job.

        Raises ``WaitTimeout`` after ``timeout`` seconds, and ``WorkerLost`` if the job's worker
        died and no worker is alive to recover it (see ``check_recoverable``)."""
        for pause in self._pauses(timeout):
            time.sleep(pause)
        return self

    async def wait_async(self, timeout: float | None = None) -> Job:
        """``await job.wait_async()``: the same as ``wait`` without blocking an event loop."""
        import anyio  # here, not at the top: the CLI starts faster without it
        for pause in self._pauses(timeout):
            await anyio.sleep(pause)
        return self

    def result(self, timeout: float | None = None, *, trust: bool = False) -> Any:
        """Wait, then return the function's value (or the pulled variables of a python job).

        Raises ``JobFailed`` if the job did not complete; a function's own exception is its
        ``__cause__``. A result is a pickle the job's code wrote, and reading it runs code: the
        result of another account's job is refused (``PermissionDenied``) unless you trust
        that account's code (``trust=True``)."""
        from .payloads import foreign_result, load  # cloudpickle: for those who use results
        self.wait(timeout)
        record = self.record
        if record.user != self.queue.user and not trust:
            raise foreign_result(self.id, record.user)
        stored = self.queue.store.result(self.id, trust=trust)
        if record.state is not State.COMPLETED:
            cause = load(stored[1]) if stored and not stored[0] else None
            reason = record.error or f"exit code {record.exit_code}"
            message = f"{self.id} {record.state.value}: {reason}"

            if isinstance(cause, BaseException):
                raise JobFailed(message, self.id, record.state.value) from cause
            raise JobFailed(message, self.id, record.state.value)
        return load(stored[1]) if stored else None

    # ---- acting -----------------------------------------------------------------------
    def cancel(self) -> Job:
        self.queue.cancel(self.id)
        return self.refresh()

    def retry(self) -> Job:
        self.queue.retry(self.id)
        return self.refresh()

    def hold(self) -> Job:
        self.queue.hold(self.id)
        return self.refresh()

    def release(self) -> Job:
        self.queue.release(self.id)
        return self.refresh()

    def log_reader(self) -> LogReader:
        """Follows the job's output files by bytes (``jobmagics logs -f``)."""
        layout = self.queue.layout
        return LogReader([layout.log(self.id), layout.stderr(self.id)])

    def log(self, offset: int = 0) -> str:
        """Captured stdout+stderr so far (from byte ``offset``). Jobs that keep stderr apart
        (``run(capture_output=True)``) have it appended after stdout."""
        layout = self.queue.layout
        texts = []
        for path in (layout.log(self.id), layout.stderr(self.id)):
            try:
                with open(path, "rb") as handle:
                    handle.seek(offset)
                    texts.append(handle.read().decode("utf-8", errors="replace"))
            except FileNotFoundError:
                continue
        return "".join(texts)

    def move(self, *, top: bool = False, bottom: bool = False, before: str | Job | None = None,
             after: str | Job | None = None) -> Job:
        """Reorder this waiting or pending job among the jobs of its priority (``Queue.move``)."""
        self.queue.move(self.id, top=top, bottom=bottom, before=before, after=after)
        return self.refresh()

    def update(self, *, config: dict[str, Any] | None = None, **changes: Any) -> Job:
        """Change settings of this waiting or pending job (``Queue.update``)."""
        self.queue.update(self.id, config=config, **changes)
        return self.refresh()

    def notifications(self) -> list[Notification]:
        """Where this job said (or will say) that it ended: each target, sent, failed (and
        why) or waiting, and the tries it took (``Queue.notifications``)."""
        return self.queue.notifications(self.id)

    def data(self) -> ExperimentData:
        """This experiment's data (``jobmagics.data.load``): its points so far while it runs,
        all of them once it ended. ``InvalidJob`` if it is no experiment or has no data yet."""
        self._require_experiment("data")
        if not self.data_path.exists():
            raise InvalidJob(self._nothing_yet("data", self.data_path))
        # the data layer sits above Job (it reads jobs and queues): found when asked for, as
        # the HTML layer is, without a static import that would tie the two modules in a cycle
        data = importlib.import_module(f"{__package__}.data")
        loaded: ExperimentData = data.load_run(self)
        return loaded

    def snapshot(self) -> dict[str, Any]:
        """What this experiment ran with (``configs.job_snapshot``): the config (defaults
        merged), the code's identity (file, hash, git commit), the station, who and where."""
        self._require_experiment("config snapshot")
        from .configs import ConfigStore
        store = ConfigStore(self.queue)
        if not store.snapshot_path(self.id).exists():
            raise InvalidJob(self._nothing_yet("config snapshot", store.snapshot_path(self.id)))
        return store.snapshot(self.id)

    def _require_experiment(self, what: str) -> None:
        kind = self.last_read.kind
        if kind != "experiment":
            raise InvalidJob(f"{self.id} is a {kind} job, not an experiment: it has no {what}"
                             " (experiments write one: q.submit(experiment='module:Class'))")

    def _nothing_yet(self, what: str, path: Path) -> str:
        state = self.refresh().state
        if state in (State.WAITING, State.PENDING):
            return f"{self.id} has no {what} yet: it is {state.value} (job.wait() first)"
        return f"{self.id} has no {what}: {path} does not exist (it is {state.value})"


class JobPage(list[Job]):
    """One page of a listing: the jobs, plus ``counts`` per state of the whole listing, so a
    caller can say how many more there are (``total``, ``more``, ``more_by_state()``)."""

    def __init__(self, jobs: Iterable[Job], counts: dict[str, int], offset: int = 0,
                 arrays: Sequence[JobArray] = ()) -> None:
        super().__init__(jobs)
        self.counts = counts
        self.offset = offset
        self.arrays = list(arrays)     # the active arrays, when their elements are left out

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def more(self) -> int:
        """Jobs after this page."""
        return max(0, self.total - self.offset - len(self))

    def more_by_state(self) -> dict[str, int]:
        """Jobs after this page, per state (the listing is ordered by state, as ``counts``)."""
        shown = self.offset + len(self)
        more = {}
        for state, count in self.counts.items():
            taken = min(count, shown)
            shown -= taken
            if count - taken:
                more[state] = count - taken
        return more


class LogReader:
    """Reads what was added to a job's output files since the last read. Offsets advance by
    the bytes read; text is decoded incrementally, so a character split between two reads
    comes out whole and an invalid byte becomes one U+FFFD, never shifting later output."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        self.offsets = [0] * len(paths)
        self._decoders = [codecs.getincrementaldecoder("utf-8")("replace") for _ in paths]

    def read(self, final: bool = False) -> str:
        """New text of every file (in order); ``final`` flushes an incomplete last character."""
        texts = []
        for index, path in enumerate(self.paths):
            try:
                with open(path, "rb") as handle:
                    if handle.seek(0, 2) < self.offsets[index]:     # started again (a new attempt)
                        self.offsets[index] = 0
                        self._decoders[index].reset()
                    handle.seek(self.offsets[index])
                    chunk = handle.read()
            except FileNotFoundError:
                chunk = b""
            self.offsets[index] += len(chunk)
            texts.append(self._decoders[index].decode(chunk, final))
        return "".join(texts)
