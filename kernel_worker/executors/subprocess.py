"""Run a job as a child process in its own process group, output appended to its log."""
from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import tempfile
from typing import IO, Any

from jobmagics.context import (
    ARRAY_ID_VAR,
    ARRAY_INDEX_VAR,
    ATTEMPT_VAR,
    JOB_ID_VAR,
    QUEUE_VAR,
    units_environment,
)
from jobmagics.model import JobRecord

from ..identity import Identity
from ..kinds import execution_of
from ..limits import apply_memory_limit
from ..proctrack import Container, tracker_for
from .base import Ended, Execution, JobContext, Outcome
from .process_group import ProcessGroupExecution
from .zygote import Zygote

_WORKER_ENV = dict(os.environ)   # read once: copying os.environ per job costs more than the claim
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_JOB_SITE = os.path.join(_ROOT, "jobmagics", "job_site")     # its sitecustomize: progress_bars


def job_environment(job: JobRecord, context: JobContext,
                    identity: Identity | None = None) -> dict[str, str]:
    """The worker's environment (the account's own HOME, USER, LOGNAME when the job runs as
    its owner), the job's ``env``, the units of its resources it holds (on this machine: a
    batch system gives its own), and the marks of the job and its attempt."""
    base = {} if job.options.env_replace else dict(_WORKER_ENV)
    if identity is not None and not job.options.env_replace:
        base = identity.environment(base)
    base.update(job.env)
    if job.units and job.backend == "local":
        base.update(units_environment(job.units))
    base[JOB_ID_VAR] = job.id
    base[ATTEMPT_VAR] = str(job.attempt)
    base[QUEUE_VAR] = str(context.layout.root)
    if job.array_id is not None:
        base[ARRAY_ID_VAR], base[ARRAY_INDEX_VAR] = job.array_id, str(job.array_index)
    if execution_of(job.kind).runner is not None:
        # the runners import jobmagics; make that work whatever the job's cwd
        base["PYTHONPATH"] = os.pathsep.join(p for p in (_ROOT, base.get("PYTHONPATH")) if p)
    elif not job.options.env_replace:
        # a command's Pythons report their tqdm bars (progress_bars; an environment the user
        # gave whole is left exactly as given)
        base["PYTHONPATH"] = os.pathsep.join(p for p in (_JOB_SITE, base.get("PYTHONPATH")) if p)
    return base


def job_argv(job: JobRecord, context: JobContext) -> list[str]:
    """What the job's process runs, as its kind says (``kernel_worker.kinds``): its own
    program (a command's argv), or its kind's runner in the job's Python."""
    execution = execution_of(job.kind)
    if execution.runner is None:      # then it has an argv (KindExecution checks)
        return execution.argv(job) if execution.argv is not None else []
    python = job.options.python or sys.executable
    if not os.access(python, os.X_OK):
        python = sys.executable
    return [python, "-m", execution.runner, str(context.layout.root), job.id]


_on_path: set[tuple[str, str]] = set()    # (program, PATH) found executable before


def cannot_execute(program: str, cwd: str, env: dict[str, str]) -> Outcome | None:
    """Why ``program`` cannot be executed, found as ``Popen`` would (the job's PATH and folder).
    A program once found on a PATH is not looked for again: if it goes away, the job's log says
    so (from the shell that joins the container) and the job fails with exit code 127."""
    if os.sep in program:
        candidates = [os.path.join(cwd, program)]
    else:
        key = (program, env.get("PATH", os.defpath))
        if key in _on_path:
            return None
        candidates = [os.path.join(folder, program) for folder in os.get_exec_path(env)]
    present = [path for path in candidates if os.path.isfile(path)]
    if any(os.access(path, os.X_OK) for path in present):
        if os.sep not in program and len(_on_path) < 4096:
            _on_path.add(key)
        return None
    if present:
        return Outcome(126, f"permission denied: cannot execute {program}")
    return Outcome(127, f"command not found: {program}")


class ProcessExecution(ProcessGroupExecution):
    """A child process of the worker: its exit status is the outcome."""

    def __init__(self, job_id: str, process: subprocess.Popen[bytes], container: Container) -> None:
        super().__init__(job_id, process.pid, container)
        self.process = process

    def poll(self) -> Outcome | None:
        code = self.process.poll()
        if code is None:
            return None
        if code < 0:
            return Outcome(code, f"killed by signal {signal.Signals(-code).name}")
        return Outcome(code, None if code == 0 else f"exit code {code}")


class SubprocessExecutor:
    """Runs command, python, function and experiment jobs as local child processes; function
    and python jobs are forked from a pre-imported zygote when given a context to start one."""

    def __init__(self, context: JobContext | None = None) -> None:
        self._context = context
        self._zygote = Zygote(context) if context is not None else None

    def accepts(self, job: JobRecord) -> bool:
        return job.backend == "local"

    def start(self, job: JobRecord, context: JobContext) -> Execution:
        if not os.path.isdir(job.cwd):
            return Ended(job.id, Outcome(
                None, f"working directory {job.cwd} does not exist on this host"))
        identity = context.identity(job)
        container = tracker_for(context.layout.root).attempt(job.id, job.attempt)
        if self._zygote is not None and self._zygote.accepts(job):
            forked = self._zygote.start(job, job_environment(job, context, identity), container,
                                        identity)
            if forked is not None:
                if job.memory is not None and forked.pid is not None:
                    apply_memory_limit(forked.pid, job.memory)
                return forked
        execution = self._start_process(job, context, container, identity)
        if isinstance(execution, Ended):
            container.release()
        return execution

    def _start_process(self, job: JobRecord, context: JobContext, container: Container,
                       identity: Identity | None) -> Execution:
        argv, env = job_argv(job, context), job_environment(job, context, identity)
        cannot = cannot_execute(argv[0], job.cwd, env) if argv else Outcome(None, "empty command")
        if cannot is not None:          # the wrapper that joins the container would hide why
            return Ended(job.id, cannot)
        handles = self._open_streams(job, context, identity)
        as_owner: dict[str, Any] = {}
        joining, descriptor = container.command(argv), None
        if identity is not None:        # the child becomes the owner before it runs anything
            joining, descriptor = container.command_for_owner(argv)
            as_owner = {**identity.popen_keywords(),
                        "pass_fds": () if descriptor is None else (descriptor,)}
        try:
            process = subprocess.Popen(
                joining, cwd=job.cwd, env=env, start_new_session=True,
                stdin=handles["stdin"], stdout=handles["stdout"], stderr=handles["stderr"],
                **as_owner)
        except FileNotFoundError:
            return Ended(job.id, Outcome(127, f"command not found: {argv[0]}"))
        except PermissionError:
            return Ended(job.id, Outcome(126, f"permission denied: cannot execute {argv[0]}"))
        except OSError as exc:
            return Ended(job.id, Outcome(None, f"cannot start {argv[0]}: {exc.strerror}"))
        finally:
            for handle in handles.values():
                if hasattr(handle, "close"):
                    handle.close()
            if descriptor is not None:
                os.close(descriptor)
        container.started(process.pid)
        if job.memory is not None:
            apply_memory_limit(process.pid, job.memory)
        return ProcessExecution(job.id, process, container)

    @staticmethod
    def _open_streams(job: JobRecord, context: JobContext,
                      identity: Identity | None = None) -> dict[str, Any]:
        """The job's stdin/stdout/stderr, open: the caller hands them to Popen, then closes them.
        The log (and stderr) files belong to the account the job runs as."""
        layout = context.layout
        stdout: IO[bytes] = open(layout.log(job.id), "ab")  # noqa: SIM115
        stderr: IO[bytes] | int = subprocess.STDOUT
        if job.options.capture:      # run(capture_output=True): keep stderr apart
            stderr = open(layout.stderr(job.id), "ab")  # noqa: SIM115
        if identity is not None:
            for opened in (stdout, stderr):
                if not isinstance(opened, int):
                    identity.own_descriptor(opened.fileno())
        stdin: IO[bytes] | int = subprocess.DEVNULL
        if job.options.stdin_b64 is not None:
            stdin = tempfile.TemporaryFile()  # noqa: SIM115
            stdin.write(base64.b64decode(job.options.stdin_b64))
            stdin.seek(0)
        return {"stdin": stdin, "stdout": stdout, "stderr": stderr}

    def shutdown(self) -> None:
        if self._zygote is not None:
            self._zygote.close()
        if self._context is not None:
            tracker_for(self._context.layout.root).leave(self._context.worker_id)
