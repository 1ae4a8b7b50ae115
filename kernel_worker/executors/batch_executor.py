"""``BatchExecutor``: submits jobs (arrays as one array job, chains with the system's own
dependencies) to a batch system and follows them; see ``batch`` for the whole story."""
from __future__ import annotations

import base64
import logging
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from jobmagics.context import REPORT_DIR_VAR
from jobmagics.errors import JobmagicsError
from jobmagics.model import JobRecord, State
from jobmagics.store import Store
from jobmagics.store.batch import BatchMixin, ChainLink

from ..identity import Identity
from .base import Ended, Execution, JobContext, Outcome
from .batch import RESULT_KINDS, Batch, BatchExecution, BatchSystem, submission_signature
from .batch_files import Inbox, Progress, Result, report_folder, write_input
from .batch_tracker import REFRESH_S, BatchStatus, BatchTracker
from .subprocess import job_environment

log = logging.getLogger("kernel_worker.batch")

# How long after the system said a job ended its result (or exit status) may take to show
# up: NFS clients cache what a folder holds for up to about 30 s.
REPORT_GRACE_S = 30.0
# what the submit command itself needs to find the cluster, even when a job replaces its
# environment
SUBMIT_VARIABLES = ("SLURM_CONF", "PATH", "PBS_DEFAULT", "PBS_SERVER")


class BatchStore(Store, BatchMixin):
    """The queue as a batch executor uses it: a worker's store, and chains."""


class BatchExecutor:
    """Runs ``backend == system.name`` jobs of every kind on a batch system."""

    def __init__(self, system: BatchSystem, context: JobContext | None = None,
                 tracker: BatchTracker | None = None) -> None:
        self.system = system
        self.context = context
        self.tracker = tracker or system.tracker()
        self._store: BatchStore | None = None
        self._inbox: Inbox | None = None
        self._live: dict[str, BatchExecution] = {}          # job id -> its attempt, until closed
        self._prestarted: dict[str, Execution] = {}         # submitted with a sibling the worker
        #                                                     claimed too: it starts it next
        self._adopted: list[tuple[JobRecord, Execution]] = []   # for the worker to track
        self._members: dict[str, set[str]] = {}             # array job -> its live tasks
        self._stops: dict[str, bool] = {}                    # backend id -> gently
        self._cancelled_whole: set[str] = set()
        self._next_scan = 0.0
        self._seen_version = -1
        self._adopting = False      # the worker asks for adopted jobs: it tracks them

    def accepts(self, job: JobRecord) -> bool:
        return job.backend == self.system.name

    # ---- starting -----------------------------------------------------------------------
    def start(self, job: JobRecord, context: JobContext) -> Execution:
        self.context = context
        ready = self._prestarted.pop(job.id, None)
        if ready is not None:
            return ready
        if not os.path.isdir(job.cwd):
            return Ended(job.id, Outcome(None, f"working directory {job.cwd} does not exist"
                                                 " on this host"))
        batches, adopt = self._batches_for(job, context)
        executions: dict[str, Execution] = {}
        for batch in batches:
            executions.update(self._submit(batch, context))
        records = {sibling.id: sibling for batch in batches for sibling in batch.jobs}
        for sibling_id, execution in executions.items():
            if sibling_id in adopt:
                self._adopted.append((records[sibling_id], execution))
            elif sibling_id != job.id:
                self._prestarted[sibling_id] = execution
        self._chain(_submitted(executions.values()), context)
        return executions[job.id]

    def adopted(self) -> list[tuple[JobRecord, Execution]]:
        """The jobs this executor took on by itself (an array's pending elements when it
        started one, a chain's links when it submitted or follows their parents), each running
        on this worker now, with its execution: the worker tracks them as if it had started
        them itself. The worker asks after each round of claims and polls; an executor takes
        jobs on by itself only for a worker that asks (it would never track them otherwise)."""
        self._adopting = True
        taken, self._adopted = self._adopted, []
        return taken

    def _batches_for(self, job: JobRecord, context: JobContext) -> tuple[list[Batch], set[str]]:
        """The job alone, or with its array's other elements: those the worker claimed with
        it (it starts them next) and every pending one (claimed here: to adopt). Elements
        that cannot share one script are submitted as array jobs of their own."""
        if job.array_id is None or not self.system.arrays:
            return [Batch([job])], set()
        store = self.store
        parallel = store.array(job.array_id).parallel
        same_claim = [e for e in store.elements(job.array_id, states=[State.RUNNING])
                      if e.worker == context.worker_id and e.started_at == job.started_at
                      and e.backend_id is None and e.id != job.id
                      and e.id not in self._live and e.id not in self._prestarted]
        # last: once claimed, every element must end up submitted or ended (never stranded).
        # An element holding resources is claimed by the worker alone (they count there).
        takes = self._adopting and not job.resources
        claimed = store.claim_elements(job.array_id, context.worker_id) if takes else []
        groups: dict[tuple[object, ...], list[JobRecord]] = {submission_signature(job): [job]}
        for element in [*same_claim, *claimed]:
            groups.setdefault(submission_signature(element), []).append(element)
        batches = [Batch(sorted(group, key=lambda e: e.array_index or 0), job.array_id, parallel)
                   for group in groups.values()]
        return batches, {element.id for element in claimed}

    def _submit(self, batch: Batch, context: JobContext) -> dict[str, Execution]:
        """Submit one batch; an execution per job (all ended, saying why, if it failed)."""
        label = self.system.label
        try:
            owner = context.identity(batch.first)   # it submits: the system runs it as them
            script = self._prepare(batch, context, owner)
            env = self._environment(batch.first, context, owner)
            backend_ids = self.system.submit(batch, script, env, owner, context)
        except JobmagicsError as exc:
            return _ended(batch, str(exc))
        except OSError as exc:
            return _ended(batch, f"cannot write the {label} batch script: {exc}")
        except Exception as exc:  # a bug here must end these jobs, not strand them
            log.exception("could not submit %s", batch.first.id)
            return _ended(batch, f"could not submit: {type(exc).__name__}: {exc}")
        what = batch.first.id if len(batch.jobs) == 1 else \
            f"{len(batch.jobs)} elements of {batch.array_id}"
        log.info("%s submitted to %s as %s", what, label, self.system.submission_of(backend_ids[0]))
        executions: dict[str, Execution] = {}
        for job, backend_id in zip(batch.jobs, backend_ids, strict=True):
            execution = BatchExecution(job, backend_id, self, owner.uid if owner else None)
            self._live[job.id] = executions[job.id] = execution
            submission = self.system.submission_of(backend_id)
            if submission != backend_id:
                self._members.setdefault(submission, set()).add(backend_id)
        self.tracker.watch(*backend_ids)
        return executions

    def _prepare(self, batch: Batch, context: JobContext, owner: Identity | None) -> Path:
        """Write the batch script (``<queue>/<system>/<first job id>.sh``), the runners'
        inputs, and, for an ``owner`` (who may not create files in the queue's folders), the
        log files, all theirs."""
        folder = context.layout.root / self.system.name
        folder.mkdir(exist_ok=True)
        if owner is not None:           # members pass through, to their own files only
            os.chown(folder, -1, owner.file_group)
            os.chmod(folder, 0o750)
        reports = report_folder(folder, context.owners.as_owners)
        script = folder / f"{batch.first.id}.sh"
        script.write_text(self.system.script(batch, context, reports))
        made = [script]
        if batch.first.options.stdin_b64 is not None:
            stdin = script.with_suffix(".stdin")
            stdin.write_bytes(base64.b64decode(batch.first.options.stdin_b64))
            made.append(stdin)
        for job in batch.jobs:
            if job.kind in RESULT_KINDS:
                write_input(reports, job, self.store.payload(job.id), owner)
        if owner is not None:
            for path in made:
                owner.own(path, 0o600)
            for job in batch.jobs:
                logs = [context.layout.log(job.id)]
                if job.options.capture:
                    logs.append(context.layout.stderr(job.id))
                for log_file in logs:
                    log_file.touch()
                    owner.own(log_file)
        return script

    def _environment(self, job: JobRecord, context: JobContext,
                     owner: Identity | None) -> dict[str, str]:
        """The job's environment (exported to the job) plus what the submit command needs,
        and where the job reports instead of the database."""
        env = job_environment(job, context, owner)
        for name in SUBMIT_VARIABLES:
            if name in os.environ and name not in env:
                env[name] = os.environ[name]
        env[REPORT_DIR_VAR] = str(self.inbox.folder)
        return env

    # ---- chains -------------------------------------------------------------------------
    def _chain(self, submitted: dict[str, str], context: JobContext) -> None:
        """Submit the waiting children of what was just submitted that the system can hold
        until their parents completed, then theirs, and so on. A queue that does not answer
        now leaves them waiting (the next look takes them, or their parents' ends free them)."""
        while submitted and self.system.chains and self._adopting:
            try:
                links = self.store.claim_chained(context.worker_id, self.system.name, submitted)
            except (JobmagicsError, sqlite3.Error) as exc:
                log.warning("could not take the jobs that run after %s: %s",
                            ", ".join(submitted), exc)
                return
            submitted = {}
            for batch in self._chain_batches(links):
                executions = self._submit(batch, context)
                self._adopted += [(job, executions[job.id]) for job in batch.jobs]
                submitted.update(_submitted(executions.values()))

    def _chain_batches(self, links: Iterable[ChainLink]) -> list[Batch]:
        """One batch per child; an array's elements with the same parents as one array job."""
        batches: dict[tuple[object, ...], Batch] = {}
        for link in links:
            job, after = link.job, list(link.after)
            array_id = job.array_id if self.system.arrays else None
            key = ((array_id, submission_signature(job), tuple(after)) if array_id is not None
                   else (job.id,))
            if key not in batches:
                parallel = None if array_id is None else self.store.array(array_id).parallel
                batches[key] = Batch([], array_id, parallel, after)
            batches[key].jobs.append(job)
        return list(batches.values())

    # ---- following ----------------------------------------------------------------------
    def tend(self) -> None:
        """Called by every poll: send the stops asked for since, and, once an interval, bring
        in the progress the jobs reported and, if the queue changed, take the children
        submitted since after jobs that wait in the system (``adopted()`` hands them over)."""
        self._flush_stops()
        now = time.monotonic()
        if now < self._next_scan or not self._live or self.context is None:
            return
        self._next_scan = now + REFRESH_S
        live = {(e.job_id, e.attempt): e.owner_uid for e in self._live.values()}
        for report in self.inbox.progress(live):
            self._record_progress(report)
        try:
            version = self.store.data_version()
        except (JobmagicsError, sqlite3.Error):
            return
        if version != self._seen_version and self.system.chains:
            self._seen_version = version
            self._chain(_submitted(self._live.values()), self.context)

    def settle(self, execution: BatchExecution, status: BatchStatus) -> Outcome | None:
        """The system says the attempt ended: bring in what the job wrote (its exit status,
        result, last progress), then say how it ended. None while a report the job must have
        written has not shown up yet (a shared filesystem may show it late)."""
        waited = execution.waited_since_end()
        patient = not execution.stopping and waited < REPORT_GRACE_S
        key = (execution.job_id, execution.attempt, execution.owner_uid)
        if self.system.exit_files and execution.exit_code is None:
            execution.exit_code = self.inbox.exit_code(*key)
            if execution.exit_code is None and patient and status.state != "LOST":
                return None
        outcome = self.system.outcome(status, execution.backend_id or "", execution.exit_code)
        if outcome is None:
            return None
        if execution.kind in RESULT_KINDS and not execution.result_taken:
            result = self.inbox.result(*key)
            if result is not None:
                execution.result_taken = self._save_result(execution.job_id, result)
            elif patient and outcome.exit_code in (0, 1):    # its runner reports before exiting
                return None
        progress = self.inbox.progress_of(*key)
        if progress is not None:
            self._record_progress(progress)
        if outcome.ok and execution.kind in RESULT_KINDS and not execution.result_taken:
            return Outcome(outcome.exit_code, f"{self.system.label} says it completed, but its"
                                              " result never arrived")
        return outcome

    def abandon(self, execution: BatchExecution, reason: str) -> Outcome | None:
        """A job the system holds that can never start: cancel it there; it ends cancelled,
        naming the parent that did not complete, as the queue would have (None while that
        parent's end is not recorded yet: its worker records it in a moment)."""
        ended = self._unfinished_parents(execution.job_id)
        if not ended and execution.waited_since_end() < REPORT_GRACE_S:
            return None
        self.request_stop(execution, gently=False)
        self._flush_stops()
        because = (f"dependency {', '.join(ended)} ({self.system.label}: {reason})" if ended
                   else f"{self.system.label}: {reason}")
        return Outcome(None, because, "cancelled")

    def _unfinished_parents(self, job_id: str) -> list[str]:
        """``JOB-1 failed``, ... for each parent of the job (a job or an array) that ended
        without completing."""
        found = []
        try:
            for parent in self.store.get(job_id).after:
                state = (self.store.array(parent).state if self.store.is_array(parent)
                         else self.store.get(parent).state)
                if state in (State.FAILED, State.CANCELLED, State.TIMEOUT):
                    found.append(f"{parent} {state.value}")
        except (JobmagicsError, sqlite3.Error):
            pass
        return found

    def _save_result(self, job_id: str, result: Result) -> bool:
        try:
            self.store.save_result(job_id, result.ok, result.blob, error=result.error)
        except (JobmagicsError, sqlite3.Error) as exc:
            log.warning("could not store the result of %s: %s", job_id, exc)
            return False
        return True

    def _record_progress(self, report: Progress) -> None:
        try:
            self.store.set_progress(report.job_id, report.progress, report.stage)
        except (JobmagicsError, sqlite3.Error) as exc:
            log.debug("could not record the progress of %s: %s", report.job_id, exc)

    def report_stage(self, job_id: str, text: str, *, replace_job_stage: bool) -> None:
        """Show the system's state as the job's stage; never hide a stage the job reported
        itself (those do not start with the system's name)."""
        try:
            if not replace_job_stage:
                current = self.store.get(job_id).stage
                if current and not current.startswith(f"{self.system.name} "):
                    return
            self.store.set_progress(job_id, None, text)
        except (JobmagicsError, AssertionError, OSError, sqlite3.Error) as exc:
            log.debug("could not show the %s state of %s: %s", self.system.label, job_id, exc)

    # ---- stopping -----------------------------------------------------------------------
    def request_stop(self, execution: BatchExecution, *, gently: bool) -> None:
        """Stops are sent together at the next poll: the worker asks each element of an array
        to stop in one pass, and every live task of an array job is one cancel of it."""
        execution.stopping = True
        backend_id = execution.backend_id or ""
        if self.system.submission_of(backend_id) in self._cancelled_whole:
            return                  # cancelled as a whole: the system ends it (KillWait)
        self._stops[backend_id] = gently and self._stops.get(backend_id, True)

    def _flush_stops(self) -> None:
        if not self._stops:
            return
        stops, self._stops = self._stops, {}
        by_submission: dict[str, list[str]] = {}
        for backend_id in stops:
            by_submission.setdefault(self.system.submission_of(backend_id), []).append(backend_id)
        outright: list[str] = []
        gentle: list[str] = []
        for submission, ids in by_submission.items():
            members = self._members.get(submission)
            if members and members <= set(ids):
                outright.append(submission)
                self._cancelled_whole.add(submission)
                continue
            for backend_id in ids:
                (gentle if stops[backend_id] else outright).append(backend_id)
        for ids, gently in ((outright, False), (gentle, True)):
            if ids:
                self.system.cancel(ids, gently=gently)

    def closed(self, execution: BatchExecution) -> None:
        backend_id = execution.backend_id or ""
        if self._live.get(execution.job_id) is execution:
            del self._live[execution.job_id]
        self._flush_stops()
        self.tracker.forget(backend_id)
        submission = self.system.submission_of(backend_id)
        members = self._members.get(submission)
        if members is not None:
            members.discard(backend_id)
            if not members:
                del self._members[submission]
                self._cancelled_whole.discard(submission)
        self.inbox.clear(execution.job_id, execution.attempt)

    # ---- what it holds ------------------------------------------------------------------
    @property
    def store(self) -> BatchStore:
        if self._store is None:
            assert self.context is not None, "a batch executor needs the worker's context"
            self._store = BatchStore(self.context.layout)
        return self._store

    @property
    def inbox(self) -> Inbox:
        if self._inbox is None:
            assert self.context is not None, "a batch executor needs the worker's context"
            folder = self.context.layout.root / self.system.name
            folder.mkdir(exist_ok=True)
            self._inbox = Inbox(report_folder(folder, self.context.owners.as_owners))
        return self._inbox

    def shutdown(self) -> None:
        self.tracker.stop()
        if self._store is not None:
            self._store.close()


def _ended(batch: Batch, error: str) -> dict[str, Execution]:
    return {job.id: Ended(job.id, Outcome(None, error)) for job in batch.jobs}


def _submitted(executions: Iterable[Execution]) -> dict[str, str]:
    """Job id -> backend id of the executions that were submitted (not ended at once)."""
    return {e.job_id: e.backend_id for e in executions
            if isinstance(e, BatchExecution) and e.backend_id is not None}
