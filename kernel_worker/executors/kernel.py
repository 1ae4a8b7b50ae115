"""Python jobs in Jupyter kernels (jupyter_client + ipykernel).

A worker that serves an exclusive resource keeps ONE persistent kernel for it, prepared by
``--startup FILE``, so consecutive jobs share live state (the instrument connection);
experiment jobs run there too, against its global ``station`` (see ``kernel_work``). Other
python jobs get a fresh kernel each, used once and then killed: forked from the worker's kernel
zygote (``kernel_zygote``, which imported ipykernel and ran nothing), a few of them ahead of
the jobs that will take them (in a system queue, a job's owner's kernel is started as a new
Python, one spare ahead). All kernel I/O runs on one asyncio loop in a background thread; the
worker's single-threaded loop only sees non-blocking ``poll()`` and a pipe that becomes readable
when a job ends (its batch kernel and what it left in the attempt's container already gone).

Processes (see ``proctrack``): kernels live in the worker's home container. While a job runs,
its kernel is moved into the attempt's container, so everything the job's code starts is born
there, and the kernel itself, which runs the job's code, is part of the attempt too: a lost,
killed or timed-out attempt ends the kernel with its children. A persistent kernel goes back
home when the job ends and serves the next one; the processes the job left behind end with the
attempt (start what must outlive a job from the ``--startup`` file: it runs at home). The
kernel's pid is recorded for the job as soon as the job takes it, and ``begin_job`` puts the
attempt's marks in the kernel's ``os.environ`` for the backend that finds processes by them."""
from __future__ import annotations

import ast
import asyncio
import base64
import binascii
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from jobmagics.liveness import process_start_time
from jobmagics.model import JobRecord
from jobmagics.service.policy import InstrumentPolicy
from jobmagics.store import Store

from ..identity import Identity
from ..kinds import EXECUTIONS, kernel_work_for
from ..options import WorkerOptions
from ..proctrack import tracker_for
from .base import Ended, Execution, JobContext, Outcome
from .kernel_capture import OutputRecorder
from .kernel_fork import KernelForker
from .kernel_persistent import PersistentKernel, StartupFailed
from .kernel_run import KernelExecution, RunState
from .kernel_session import (
    KernelDied,
    ManagedKernel,
    error_line,
    kernel_environment,
    remove_connection_folder,
)
from .kernel_work import REPORT, begin_call
from .zygote import Reported
from .zygote_report import Report, parse_reports

log = logging.getLogger("kernel_worker")
MAX_SPARES = 4          # fresh kernels forked ahead of the jobs that will take them


class KernelExecutor:
    """Runs ``python`` jobs of the ``local`` backend in Jupyter kernels, and ``experiment``
    jobs in the persistent kernel of the exclusive resource they need (``hardware``), so they
    use the station its ``--startup`` file connected instead of opening their own."""

    def __init__(self, options: WorkerOptions, context: JobContext) -> None:
        self.options = options
        self.context = context
        self.queue_root = str(context.layout.root)
        self.tracker = tracker_for(context.layout.root)
        self.home = self.tracker.home(context.worker_id)
        self._store = Store(context.layout)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kernel-executor",
                                        daemon=True)
        self._thread.start()
        self._persistent: dict[str, PersistentKernel] = {}
        self._spare: tuple[str, asyncio.Task[ManagedKernel]] | None = None  # an owner's
        self._spares: list[asyncio.Task[ManagedKernel]] = []    # forked, of the worker's account
        self._pool = max(1, min(options.slots, MAX_SPARES))
        self._background: set[asyncio.Task[Any]] = set()   # asyncio keeps only weak references
        self._forker = KernelForker(kernel_environment(self.queue_root), self.home,
                                    self.queue_root)
        threading.Thread(target=self._forker.prepare, name="kernel-zygote", daemon=True).start()
        self.submit(self._create_persistent()).result()

    def submit(self, coroutine: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Background work on the loop (kill a used kernel, prepare one), awaited at shutdown."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _create_persistent(self) -> None:
        for name, capacity in sorted(self.options.resources.items()):
            if capacity == 1:
                holder = PersistentKernel(name, self.options.startup, self.queue_root, self.home)
                self._persistent[name] = holder
                if self.options.startup:       # connect the station now, not at the first job
                    self._spawn(holder.prepare_in_background())

    # ---- the Executor interface -------------------------------------------------------
    def accepts(self, job: JobRecord) -> bool:
        execution = EXECUTIONS.get(job.kind)
        if job.backend != "local" or execution is None or execution.kernel_work is None:
            return False
        # an experiment with no persistent kernel to go to (e.g. hardware=2) keeps its subprocess
        return execution.fresh_kernel or self._holder_for(job) is not None

    def start(self, job: JobRecord, context: JobContext) -> Execution:
        holder = self._holder_for(job)
        owner = context.identity(job)          # None unless jobs run as their owners
        trusted = True
        if holder is not None and owner is not None:
            refusal = instrument_refusal(job, holder.resource, self._store)
            if refusal is not None:
                _note_in_log(context, job, owner, refusal)
                return Ended(job.id, Outcome(None, refusal))
            trusted = may_run_code(job.user, self._store)
        kernel = holder.kernel if holder is not None else None
        pid = kernel.pid if kernel is not None and not kernel.dead else None
        state = RunState(job, self.tracker.attempt(job.id, job.attempt),
                         kernel_work_for(job, self.queue_root, trusted), owner, trusted,
                         payload=self._store.payload(job.id) if trusted else None)
        return KernelExecution(self, state, pid)

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self.submit(self._shutdown()).result(timeout=15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self.tracker.leave(self.context.worker_id)
        remove_connection_folder()

    async def _shutdown(self) -> None:
        if self._background:
            await asyncio.wait(set(self._background), timeout=10)
        spares = self._spares + ([self._spare[1]] if self._spare is not None else [])
        self._spare, self._spares = None, []
        for task in spares:
            with contextlib.suppress(BaseException):
                await (await task).kill()
        await asyncio.gather(*(h.shutdown() for h in self._persistent.values()),
                             return_exceptions=True)
        await asyncio.to_thread(self._forker.close)

    def _holder_for(self, job: JobRecord) -> PersistentKernel | None:
        names = sorted(r for r in job.resources if r in self._persistent)
        return self._persistent[names[0]] if names else None

    # ---- one run, on the loop ---------------------------------------------------------
    async def run_job(self, state: RunState) -> Outcome:
        recorder = OutputRecorder(self.context.layout, state.job, state.work.notebook_source,
                                  state.owner)
        outcome = Outcome(None, "the job did not run")
        try:
            outcome = await self._run_somewhere(state, recorder)
            return outcome
        except StartupFailed as exc:
            outcome = _failed(recorder, str(exc))
            return outcome
        finally:
            with contextlib.suppress(Exception):
                recorder.save_notebook("completed" if outcome.ok else "failed", outcome.error)
            recorder.close()
            if state.owner is not None:     # what the instrument's kernel wrote is theirs
                layout = self.context.layout
                for path in (layout.data(state.job.id), layout.config(state.job.id)):
                    state.owner.own(path)

    async def _run_somewhere(self, state: RunState, recorder: OutputRecorder) -> Outcome:
        holder = self._holder_for(state.job)
        if holder is not None:
            async with holder.lock:
                kernel = await holder.ready(recorder.note)
                outcome = await self._execute(state, kernel, recorder, persistent=True)
            if kernel.dead:              # crashed or killed: prepare it again for the next job
                self._spawn(holder.prepare_in_background())
            return outcome
        kernel = await self._fresh_kernel(state.owner)
        try:
            return await self._execute(state, kernel, recorder, persistent=False)
        finally:                            # a batch kernel serves one job
            kernel.kill_now()
            # its container empties now, off the worker's loop, which then only removes it
            await asyncio.to_thread(state.container.release, stopped=False)
            self._spawn(kernel.kill())

    async def _fresh_kernel(self, owner: Identity | None) -> ManagedKernel:
        """A kernel nobody used: a spare forked for the worker's account (another is forked to
        take its place), or, for ``owner``, the spare of theirs started for the last job."""
        if owner is not None:
            return await self._owners_kernel(owner)
        while self._spares:
            task = self._spares.pop(0)
            self._fill_spares()
            kernel: ManagedKernel | None = None
            with contextlib.suppress(Exception):
                kernel = await task
            if kernel is not None and await kernel.alive():
                return kernel
            if kernel is not None:
                self._spawn(kernel.kill())
        self._fill_spares()
        return await self._forked_kernel()

    def _fill_spares(self) -> None:
        while len(self._spares) < self._pool:
            self._spares.append(self._spawn(self._forked_kernel()))

    async def _forked_kernel(self) -> ManagedKernel:
        """A kernel forked from the kernel zygote; started as a new Python if that fails."""
        try:
            return await ManagedKernel.start(self.queue_root, self.home, forker=self._forker)
        except (OSError, ValueError, TimeoutError) as exc:
            log.warning("could not fork a kernel (%s); starting one", exc)
            return await ManagedKernel.start(self.queue_root, self.home)

    async def _owners_kernel(self, owner: Identity) -> ManagedKernel:
        """A kernel of ``owner``'s: the spare if it is theirs; a new spare for the same account
        is started for the next job."""
        spare, self._spare = self._spare, None
        kernel: ManagedKernel | None = None
        if spare is not None:
            with contextlib.suppress(Exception):
                kernel = await spare[1]
            if kernel is not None and (spare[0] != owner.user or not await kernel.alive()):
                self._spawn(kernel.kill())
                kernel = None
        if kernel is None:
            kernel = await ManagedKernel.start(self.queue_root, self.home, owner=owner)
        self._spare = (owner.user, self._spawn(ManagedKernel.start(self.queue_root, self.home,
                                                                   owner=owner)))
        return kernel

    async def _execute(self, state: RunState, kernel: ManagedKernel, recorder: OutputRecorder,
                       persistent: bool) -> Outcome:
        if state.stop_asked():
            return _failed(recorder, "stopped before it started")
        state.kernel = kernel
        try:
            taking = asyncio.create_task(self._take(state, kernel))    # while it prepares
            try:
                begin = await kernel.execute(begin_call(state.job, self.queue_root, state.trusted,
                                                        state.payload), silent=True)
            finally:
                await taking
            if begin.get("status") != "ok":
                return _failed(recorder, f"could not prepare the job: {error_line(begin)}")
            if state.stop_asked():              # cancelled while it was being prepared
                return _failed(recorder, "stopped before it started")
            return await self._run_work(state, kernel, recorder)
        except KernelDied:
            again = (" (it is restarted, and its startup file re-run, before the next job)"
                     if persistent else "")
            return _failed(recorder, f"the Jupyter kernel died while running the job{again}")
        finally:
            state.code_ended()
            state.kernel = None
            if persistent and kernel.pid is not None and not kernel.dead:
                self.home.add(kernel.pid, own_group=False)     # the job's leftovers stay behind

    async def _run_work(self, state: RunState, kernel: ManagedKernel,
                        recorder: OutputRecorder) -> Outcome:
        """The kind's work in the prepared kernel, then the silent call that ends the job."""
        work = state.work
        reply = await kernel.execute(work.code, self._watching(state, kernel, recorder),
                                     store_history=work.store_history)
        state.code_ended()
        failed = reply.get("status") != "ok"
        finish = await kernel.execute(work.finish_call(state.job, self.queue_root, failed),
                                      silent=True, user_expressions=REPORT)
        report = reported(finish)
        if failed:
            return _failed(recorder, error_line(reply), already_logged=True, report=report)
        if finish.get("status") != "ok":
            return _failed(recorder, error_line(finish))
        return Reported(0, report=report)

    async def _take(self, state: RunState, kernel: ManagedKernel) -> None:
        """The job's kernel joins its attempt's container and is recorded as the job's process,
        before any of the job's own code runs. In a thread: moving a process into a cgroup
        waits on a lock of the whole machine (milliseconds), and the loop has the kernel's
        messages to read meanwhile."""
        pid = kernel.pid
        if pid is not None:
            await asyncio.to_thread(self._join_attempt, state, pid)

    def _join_attempt(self, state: RunState, pid: int) -> None:
        state.container.add(pid, own_group=False)
        self._store.set_started(state.job.id, self.context.worker_id, pid,
                                process_start_time(pid), None)

    def _watching(self, state: RunState, kernel: ManagedKernel,
                  recorder: OutputRecorder) -> Callable[[str, dict[str, Any]], None]:
        def on_output(msg_type: str, content: dict[str, Any]) -> None:
            if msg_type == "execute_input" and state.code_started():
                self._spawn(kernel.interrupt())
            recorder.record(msg_type, content)
        return on_output


# ---- the instrument's kernel in a system queue ----------------------------------------------
def may_run_code(user: str, store: Store) -> bool:
    """Queue admins and instrument operators run their own code in the instrument's kernel."""
    return InstrumentPolicy.read(store.setting).may_run_code(user)


def instrument_refusal(job: JobRecord, resource: str, store: Store) -> str | None:
    """Why ``job`` may not run in the instrument kernel of ``resource`` (None: it may): the
    service's rule at submit (``jobmagics.service.policy``), again now the job starts."""
    target = (job.experiment or {}).get("target")
    return InstrumentPolicy.read(store.setting).refusal(job.user, job.kind, target, resource)


def _note_in_log(context: JobContext, job: JobRecord, owner: Identity, line: str) -> None:
    """A job that does not start says why in its log too (the log is its owner's)."""
    with contextlib.suppress(OSError), open(context.layout.log(job.id), "ab") as log_file:
        owner.own_descriptor(log_file.fileno())
        log_file.write(line.encode() + b"\n")


def _failed(recorder: OutputRecorder, message: str, already_logged: bool = False,
            report: Report | None = None) -> Outcome:
    """A failed attempt: the message is the last line of the log and the job's error."""
    if not already_logged or not message:
        recorder.note(message)
    return Reported(1, message, report=report)


def reported(reply: dict[str, Any]) -> Report | None:
    """The result the kernel handed over in its reply to ``finish_job`` (``REPORT``)."""
    text = reply.get("user_expressions", {}).get("report", {}).get("data", {}).get("text/plain")
    try:
        value = ast.literal_eval(text) if isinstance(text, str) else None
        return parse_reports(base64.b64decode(value))[0] if isinstance(value, str) else None
    except (ValueError, SyntaxError, binascii.Error):
        return None
