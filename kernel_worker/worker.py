"""The worker: claims jobs, runs them through executors, heartbeats, stops them on cancel or
timeout, and gives everything back cleanly when asked to stop."""
from __future__ import annotations

import contextlib
import logging
import os
import secrets
import selectors
import signal
import socket
import threading
import time
from dataclasses import dataclass

from jobmagics import paths
from jobmagics.checks import resource_counts
from jobmagics.client import Queue
from jobmagics.errors import DatabaseDamaged, DatabaseReplaced, DiskFull, JobmagicsError
from jobmagics.liveness import process_start_time
from jobmagics.model import JobRecord, State, WorkerRecord, format_memory
from jobmagics.store import Capacity
from jobmagics.store.dispatch import AttemptEnd, AttemptStart

from .adversity import AdversityMixin
from .chores import ChoreContext, Chores, default_chores
from .executors import Ended, Execution, Executor, JobContext, Outcome
from .executors.defaults import default_executors
from .executors.outcomes import attempt_end
from .identity import remove_squatters
from .kinds import execution_of
from .limits import group_rss
from .options import WorkerOptions
from .space import DiskSpace
from .supervision import recover_dead_workers
from .waker import Waker

log = logging.getLogger("kernel_worker")
CLAIM_RETRY_S = 0.5      # re-try claims this often even without a change (retry backoffs end)
SUPERVISE_S = 0.5        # look for dead workers on this host this often
MEMORY_CHECK_S = 0.25    # how often jobs with a memory request are measured
DISK_CHECK_S = 0.25      # how often the queue's free space (and who is writing) is looked at
LOST_DATABASE_EXIT = 3   # the exit status when jobs.db was deleted, replaced or damaged under us


@dataclass
class Running:
    job: JobRecord
    execution: Execution
    deadline: float | None               # monotonic time the job times out
    stop_reason: str | None = None       # "cancel" | "timeout" | "shutdown" | "memory"
    kill_at: float | None = None
    stop_detail: str | None = None


class Worker(AdversityMixin):
    def __init__(self, options: WorkerOptions, executors: list[Executor] | None = None) -> None:
        self.options = options
        self.queue = Queue(options.queue)
        self.store = self.queue.direct_store()
        self.id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"
        self.context = JobContext.of(self.queue.layout, self.id)
        self.executors = (executors if executors is not None
                          else default_executors(options, self.context))
        self.running: dict[str, Running] = {}
        self.stopping = False
        self._stop_deadline: float | None = None
        self._selector = selectors.DefaultSelector()
        self._waker = Waker(self.queue.path)
        self._seen_version = -1
        self._next = {"claim": 0.0, "heartbeat": 0.0, "supervise": 0.0, "memory": 0.0, "disk": 0.0}
        self._idle_since = time.monotonic()
        self.space = DiskSpace(self.queue.layout)
        self._unrecorded: list[tuple[Running, Outcome]] = []     # outcomes a full disk held back
        self._starts: list[AttemptStart] = []    # processes started, not yet recorded
        self.database_lost: str | None = None
        self.chores = Chores(ChoreContext(self.queue, self.store, self.id, threading.Event()),
                             default_chores() if options.chores else [])
        if self.queue.layout.is_shared():
            os.umask(0o007)

    # ---- lifecycle --------------------------------------------------------------------
    def run(self) -> int:
        """Serve the queue until stopped (SIGTERM/SIGINT), drained or idle; returns an exit code."""
        self._register()
        wake_read = self._install_signals()
        self.chores.start()
        try:
            waker_fd = self._waker.fileno()
            if waker_fd is not None:
                self._selector.register(waker_fd, selectors.EVENT_READ, "queue")
            self._selector.register(wake_read, selectors.EVENT_READ, "signal")
            while self._guarded_step():
                pass
        finally:
            self.chores.stop()
            self._shutdown_running()
            for executor in self.executors:
                with contextlib.suppress(Exception):
                    executor.shutdown()
            with contextlib.suppress(Exception):
                self.store.deregister_worker(self.id)
            self._waker.close()
            self._selector.close()
            if self.database_lost is not None:
                self._save_what_we_had()
            self.space.release_reserve()     # the space is the user's again once no worker runs
        return 0 if self.database_lost is None else LOST_DATABASE_EXIT

    def _register(self) -> None:
        self.space.hold_reserve()
        now = time.time()
        self.store.register_worker(WorkerRecord(
            id=self.id, host=socket.gethostname(), pid=os.getpid(),
            pid_started=process_start_time(os.getpid()) or now, user=paths.current_user(),
            started_at=now, heartbeat_at=now, slots=self.options.slots, memory=self.options.memory,
            resources=self.options.resources, only_user=self.options.only_user, state="running",
            units=self.options.units))
        log.info("worker %s serving %s (slots %d, resources %s)", self.id, self.queue.path,
                 self.options.slots, ", ".join(self.options.resources) or "none")

    def _install_signals(self) -> int:
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        signal.set_wakeup_fd(write_fd)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        return read_fd

    def _on_signal(self, signum: int, frame: object) -> None:
        now = time.monotonic()
        if self.stopping:                      # a second Ctrl-C: stop the jobs now
            self._stop_deadline = now
            return
        self.stopping = True
        self._stop_deadline = now + self.options.shutdown_grace
        log.info("stopping: no new jobs; running ones get %.0f s", self.options.shutdown_grace)

    # ---- the loop ---------------------------------------------------------------------
    def _guarded_step(self) -> bool:
        """A full disk, or a database gone from under us, changes what the worker does; it
        never ends it with jobs left running and unrecorded."""
        try:
            if self.database_lost is not None and not self.store.db.guard.orphan_ok:
                return self._step_without_database()
            return self._step()
        except DiskFull as exc:
            self._disk_filled(str(exc))
        except (DatabaseReplaced, DatabaseDamaged) as exc:
            self._database_gone(exc)
        self._wait(time.monotonic())
        return True

    def _step(self) -> bool:
        now = time.monotonic()
        self._record_held_back()
        changed = self._queue_changed()
        if changed:
            self._apply_cancel_requests(now)
            self.chores.poke()
        ended = self._reap()
        self._enforce_deadlines(now)
        due = changed or bool(ended) or now >= self._next["claim"]
        # (the disk's free space, a statvfs, only when it would claim)
        claiming = due and not self.stopping and not self._unrecorded and not self.space.is_full()
        self._turn(ended, claiming, now)
        self._adopt()
        self._periodic(now)
        if self._should_exit(now):
            return False
        self._wait(now)
        return True

    def _queue_changed(self) -> bool:
        version = self.store.db.read("PRAGMA data_version")[0][0]
        if version == self._seen_version:
            return False
        self._seen_version = version
        return True

    def _wait(self, now: float) -> None:
        timeout = self.options.poll_interval
        for run in self.running.values():
            for moment in (run.deadline, run.kill_at):
                if moment is not None:
                    timeout = min(timeout, max(0.0, moment - now))
        for key, _ in self._selector.select(timeout):
            if key.data in ("queue", "signal"):
                with contextlib.suppress(OSError):
                    os.read(key.fd, 4096) if key.data == "signal" else self._waker.drain()

    def _periodic(self, now: float) -> None:
        if now >= self._next["heartbeat"]:
            self._next["heartbeat"] = now + self.options.heartbeat
            self._heartbeat()
        if now >= self._next["memory"]:
            self._next["memory"] = now + MEMORY_CHECK_S
            self._enforce_memory(now)
        if now >= self._next["disk"]:
            self._next["disk"] = now + DISK_CHECK_S
            self._watch_disk(now)
        if now >= self._next["supervise"]:
            self._next["supervise"] = now + SUPERVISE_S
            for job_id, state in recover_dead_workers(self.store, self.id):
                log.warning("%s of a lost worker is now %s", job_id, state)

    def _heartbeat(self) -> None:
        try:
            alive = self.store.heartbeat(self.id, "stopping" if self.stopping else "running")
        except DiskFull as exc:          # the lease runs on; the disk watch still has to run
            self._disk_filled(str(exc))
            return
        if not alive:
            self._presumed_dead()
        self.store.checkpoint()

    def _presumed_dead(self) -> None:
        """Our lease expired and our jobs were given to others: stop them and start afresh."""
        log.error("this worker was presumed dead; its jobs were requeued elsewhere")
        for run in self.running.values():
            run.execution.kill()
            run.execution.close()
        self.running.clear()
        self._register()

    def _should_exit(self, now: float) -> bool:
        if self.running:
            return False
        deadline = self._stop_deadline
        past_grace = self.stopping and deadline is not None and now >= deadline
        if self._unrecorded and self.database_lost is None and not past_grace:
            return False             # outcomes still to record once the disk has room
        if self.stopping:
            return True
        idle_for = now - self._idle_since
        if self.options.idle_exit is not None and idle_for >= self.options.idle_exit:
            log.info("idle for %.0f s: exiting", idle_for)
            return True
        return self.options.drain and not self._work_left()

    def _work_left(self) -> bool:
        return self.store.count(states=[State.PENDING]) > 0 and idle_claimable_soon(self)

    # ---- claiming and starting --------------------------------------------------------
    def _capacity(self) -> Capacity:
        local = [r.job for r in self.running.values() if r.job.backend == "local"]
        return Capacity(slots=self.options.slots - sum(j.cpus for j in local),
                        memory=self.options.memory - sum(j.memory or 0 for j in local),
                        resources=self.options.resources, backends=self.options.backends,
                        only_user=self.options.only_user, units=self.options.units)

    def _turn(self, ended: list[tuple[Running, Outcome]], claiming: bool, now: float) -> None:
        """One transaction for the round: the processes started lately, the attempts that
        ended now, and the next jobs (``Store.turn``); then those jobs start."""
        capacity, limit = self._capacity(), 0
        if claiming:
            self._next["claim"] = now + CLAIM_RETRY_S
            remote = any(backend != "local" for backend in capacity.backends)
            limit = 64 if remote else max(0, capacity.slots)
        if not ended and limit == 0 and not self._starts:
            return
        try:
            ends = [(run, self._attempt_end(run, outcome)) for run, outcome in ended]
            turn = self.store.turn(self.id, ended=[e for _, e in ends if e is not None],
                                   started=self._starts, capacity=capacity, limit=limit)
        except DiskFull as exc:
            self._unrecorded += ended        # recorded again, in order, once there is room
            self._disk_filled(str(exc))
            return
        except (DatabaseReplaced, DatabaseDamaged) as exc:
            log.error("could not record how %d job(s) ended: %s", len(ended), exc)
            self._database_gone(exc)
            return
        self._starts = []
        for run, end in ends:
            self._recorded(run, end, turn.states.get(run.job.id))
        if any(run.job.notify for run, _ in ends):
            self.chores.poke()    # its own commits do not change data_version for it
        for job in turn.claimed:
            self._start(job)
        if self._starts:     # the round's new processes, in one more commit (kept on failure)
            with contextlib.suppress(DiskFull):
                self.store.turn(self.id, started=self._starts)
                self._starts = []

    def _start(self, job: JobRecord) -> None:
        self._track(job, self._execution(job))

    def _adopt(self) -> None:
        """Jobs an executor took on by itself (a batch system's array job runs every pending
        element of its array; a chain's links wait there for their parents), each running on
        this worker now: tracked as if this worker had started them."""
        for executor in self.executors:
            for job, execution in getattr(executor, "adopted", list)():
                self._track(job, execution)

    def _track(self, job: JobRecord, execution: Execution) -> None:
        started = getattr(execution, "running_since", time.monotonic())   # None: queued elsewhere
        deadline = started + job.timeout if job.timeout and started is not None else None
        self.running[job.id] = Running(job, execution, deadline)
        start = AttemptStart(job.id, execution.pid, execution.pid_started, execution.backend_id)
        if execution.backend_id is not None:     # another scheduler's job is never unknown
            self.store.set_started(job.id, self.id, start.pid, start.pid_started, start.backend_id)
        elif execution.pid is not None:          # recorded with the others of the round
            self._starts.append(start)
        fd = execution.fileno()
        if fd is not None:
            self._selector.register(fd, selectors.EVENT_READ, job.id)

    def _execution(self, job: JobRecord) -> Execution:
        """The started attempt, or one already ended: a kind that is not registered (a row
        written by hand) fails here, before any executor could take it for another kind, and
        so does a job whose owner has no account here (in a system queue)."""
        try:
            execution_of(job.kind)
            self._clear_the_way(job)
        except JobmagicsError as exc:
            return Ended(job.id, Outcome(None, str(exc)))
        executor = next((e for e in self.executors if e.accepts(job)), None)
        if executor is None:
            return Ended(job.id, Outcome(None, f"no executor for {job.kind} jobs on {job.backend}"))
        try:
            return executor.start(job, self.context)
        except JobmagicsError as exc:    # said for the user: the job fails with it
            return Ended(job.id, Outcome(None, str(exc)))
        except Exception as exc:  # an executor bug must fail the job, not the worker
            log.exception("executor failed to start %s", job.id)
            return Ended(job.id, Outcome(None, f"could not start: {type(exc).__name__}: {exc}"))

    def _clear_the_way(self, job: JobRecord) -> None:
        """In a system queue, what another account put at this job's data or config snapshot
        name (a file, a link) goes before the job starts."""
        identity = self.context.identity(job)
        if identity is None:
            return
        layout = self.queue.layout
        for path in remove_squatters([layout.data(job.id), layout.config(job.id)], identity):
            log.warning("%s: removed %s, which another account had put there", job.id, path)

    # ---- watching running jobs --------------------------------------------------------
    def _apply_cancel_requests(self, now: float) -> None:
        if not self.running:
            return
        for job_id in self.store.cancel_requests(self.id):
            run = self.running.get(job_id)
            if run is not None and run.stop_reason is None:
                self._stop(run, "cancel", now)

    def _enforce_deadlines(self, now: float) -> None:
        for run in self.running.values():
            if run.deadline is None and run.job.timeout:
                started = getattr(run.execution, "running_since", None)
                run.deadline = None if started is None else started + run.job.timeout
            if run.deadline is not None and now >= run.deadline and run.stop_reason is None:
                self._stop(run, "timeout", now)
            if run.kill_at is not None and now >= run.kill_at:
                run.execution.kill()
                run.kill_at = None
        if self.stopping and self._stop_deadline is not None and now >= self._stop_deadline:
            for run in self.running.values():
                if run.stop_reason is None:
                    self._stop(run, "shutdown", now)

    def _enforce_memory(self, now: float) -> None:
        for run in self.running.values():
            limit, pid = run.job.memory, run.execution.pid
            if limit is None or pid is None or run.stop_reason is not None:
                continue
            used = group_rss(pid)
            if used > limit:
                run.stop_detail = (f"exceeded its memory limit of {format_memory(limit)}"
                                   f" (using {format_memory(used)})")
                self._stop(run, "memory", now)

    def _stop(self, run: Running, reason: str, now: float) -> None:
        log.info("stopping %s (%s)", run.job.id, reason)
        run.stop_reason = reason
        run.execution.terminate()
        run.kill_at = now + self.options.grace

    def _reap(self) -> list[tuple[Running, Outcome]]:
        ended = [(run, outcome) for run in list(self.running.values())
                 if (outcome := run.execution.poll()) is not None]
        for run, _ in ended:
            del self.running[run.job.id]
            fd = run.execution.fileno()
            if fd is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self._selector.unregister(fd)
            run.execution.close()
        if ended and not self.running:
            self._idle_since = time.monotonic()
        return ended

    def _record(self, run: Running, outcome: Outcome) -> None:
        """Record one ended attempt on its own (``_turn`` records a round's together)."""
        end = self._attempt_end(run, outcome)
        final = None if end is None else self.store.finish(
            end.job_id, self.id, end.state, end.exit_code, end.error, end.result)
        self._recorded(run, end, final)

    def _attempt_end(self, run: Running, outcome: Outcome) -> AttemptEnd | None:
        """How the attempt ends in the queue; None: given back (the worker stops), done now."""
        if run.stop_reason == "shutdown":
            self.store.requeue(run.job.id, self.id, f"worker {self.id} stopped; back in the queue")
            return None
        return attempt_end(run.job, outcome, run.stop_reason, run.stop_detail,
                           self.space.is_full, self.queue.layout)

    @staticmethod
    def _recorded(run: Running, end: AttemptEnd | None, final: State | None) -> None:
        """One line in the worker's log per job that did not simply complete (those, hundreds
        a second at times, only at debug level: the line cost more than the rest of its end)."""
        if end is None:
            return
        level = logging.DEBUG if final is State.COMPLETED else logging.INFO
        if log.isEnabledFor(level):
            log.log(level, "%s %s%s", run.job.id, final.value if final else "was taken over",
                    f": {end.error}" if end.error else "")

    def _shutdown_running(self) -> None:
        """Leaving with jobs still running (an error in the loop): give them back."""
        for run in list(self.running.values()):
            run.execution.kill()
            with contextlib.suppress(Exception):
                self.store.requeue(run.job.id, self.id,
                                   f"worker {self.id} stopped; back in the queue")
            run.execution.close()
        self.running.clear()


def idle_claimable_soon(worker: Worker) -> bool:
    """For --drain: is a pending job of ours only waiting out a retry backoff?"""
    pending = worker.store.find(states=[State.PENDING], limit=200)
    return any(job.backend in worker.options.backends and
               (worker.options.only_user is None or job.user == worker.options.only_user) and
               set(resource_counts(job.resources)) <= set(worker.options.resources)
               for job in pending)

