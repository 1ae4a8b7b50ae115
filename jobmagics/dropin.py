"""``jobmagics.run``: a drop-in for ``subprocess.run`` that runs the command through the queue."""
from __future__ import annotations

import base64
import errno
import fcntl
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from . import paths
from .client import Queue, shared_queue
from .errors import InvalidJob, NoWorker, WorkerLost
from .job import Job
from .model import State
from .service.unit import unit_name

log = logging.getLogger(__name__)

# queue path -> monotonic time until which we trust a live worker
_live_until: dict[str, float] = {}
AUTO_WORKER_IDLE_S = 120.0
SLURM_PROBE_S = 5.0     # a cluster that does not answer sinfo within this is not reachable
# (PATH, SLURM_CONF) -> is a SLURM cluster reachable: asked once per process and setting
_slurm_reachable: dict[tuple[str, str], bool] = {}


def run(args: str | Sequence[str], *, stdin: Any = None, input: bytes | str | None = None,
        stdout: Any = None, stderr: Any = None, capture_output: bool = False,
        shell: bool = False, cwd: str | os.PathLike[str] | None = None,
        timeout: float | None = None, check: bool = False, encoding: str | None = None,
        errors: str | None = None, text: bool | None = None,
        env: Mapping[str, str] | None = None, universal_newlines: bool | None = None,
        dry_run: bool = False, wait: bool = True,
        queue: str | os.PathLike[str] | Queue | None = None,
        **job_options: Any) -> subprocess.CompletedProcess[Any] | Job:
    """Run ``args`` as a queued job and wait for it, returning ``subprocess.CompletedProcess``.

    Same meaning as ``subprocess.run`` for ``capture_output``, ``stdout/stderr=PIPE``,
    ``stderr=STDOUT``, ``text``, ``encoding``, ``input``, ``cwd``, ``env`` (replaces the whole
    environment, as in subprocess), ``timeout`` (of the run, enforced by the worker; raises
    ``TimeoutExpired``) and ``check`` (raises ``CalledProcessError``). Extra keywords (``name``,
    ``priority``, ``resources``, ``cpus``, ``memory``, ``retries``, ``after``, ``backend``) go
    to the job. ``backend="auto"``: SLURM when a SLURM cluster answers from this machine
    (``slurm_reachable``), the local queue otherwise; the result is the same either way, and the
    job's ``backend`` says which ran it. ``wait=False`` returns the ``Job``; ``dry_run=True``
    runs nothing and says what would run."""
    if stdin is not None and input is not None:
        raise ValueError("stdin and input arguments may not both be used.")
    if stdin is not None and stdin is not subprocess.DEVNULL:
        raise InvalidJob("jobmagics.run cannot pass a stdin stream to a queued job; use input=...")
    text_mode = bool(text or universal_newlines or encoding or errors)
    argv = _argv(args, shell)
    merged = stderr is subprocess.STDOUT
    capture = capture_output or stdout is subprocess.PIPE or (stderr is subprocess.PIPE)
    options: dict[str, Any] = {"capture": bool(capture and not merged),
                               "env_replace": env is not None}
    if input is not None:
        raw = input.encode(encoding or "utf-8") if isinstance(input, str) else bytes(input)
        options["stdin_b64"] = base64.b64encode(raw).decode()
    q = _queue(queue)
    if job_options.get("backend") == "auto":
        job_options["backend"] = "slurm" if slurm_reachable() else "local"
        log.debug("jobmagics.run backend=auto chose %s for %s", job_options["backend"], argv[0])
    if dry_run:
        return _dry_run(q, argv, cwd, job_options)
    ensure_worker(q, slurm=job_options.get("backend") == "slurm")
    job = q.submit(command=argv, cwd=cwd, env=dict(env) if env is not None else None,
                   timeout=timeout, options=options, **job_options)
    if not wait:
        return job
    _wait_recovering(q, job)
    return _completed(job, argv, capture, merged, text_mode, encoding, errors, check, timeout)


def _wait_recovering(q: Queue, job: Job) -> None:
    """Wait for the job. If its worker dies with none left to recover it: on the personal
    default queue start a new worker (which requeues the job, or fails it) and wait on;
    elsewhere ``WorkerLost`` says what happened."""
    while True:
        try:
            job.wait()
            return
        except WorkerLost:
            if not paths.is_personal_default(q.path):
                raise
            _live_until.pop(str(q.path), None)
            ensure_worker(q)


def _argv(args: str | Sequence[str], shell: bool) -> list[str]:
    if shell:
        line = args if isinstance(args, str) else " ".join(map(str, args))
        return ["/bin/sh", "-c", line]
    if isinstance(args, (str, bytes, os.PathLike)):
        return [os.fsdecode(args)]
    return [os.fsdecode(a) if isinstance(a, (bytes, os.PathLike)) else str(a) for a in args]


def _queue(queue: str | os.PathLike[str] | Queue | None) -> Queue:
    return queue if isinstance(queue, Queue) else shared_queue(queue)


def _dry_run(q: Queue, argv: list[str], cwd: Any,
             job_options: Mapping[str, Any]) -> subprocess.CompletedProcess[Any]:
    extras = " ".join(f"{k}={v!r}" for k, v in sorted(job_options.items()))
    where = os.fspath(cwd) if cwd is not None else os.getcwd()
    print(f"[jobmagics dry run] would queue {subprocess.list2cmdline(argv)} in {where} on {q.path}"
          + (f" ({extras})" if extras else ""), file=sys.stderr)
    return subprocess.CompletedProcess(argv, 0)


def _completed(job: Job, argv: list[str], capture: bool, merged: bool, text_mode: bool,
               encoding: str | None, errors: str | None, check: bool,
               timeout: float | None) -> subprocess.CompletedProcess[Any]:
    record = job.record
    layout = job.queue.layout
    raw_out = raw_err = None
    if capture:
        raw_out = _read(layout.log(job.id))
        raw_err = None if merged else _read(layout.stderr(job.id))
    out: bytes | str | None = raw_out
    err: bytes | str | None = raw_err
    if text_mode:
        out, err = (None if b is None else b.decode(encoding or "utf-8", errors or "strict")
                    for b in (raw_out, raw_err))
    if record.exit_code == 127 and (record.error or "").startswith("command not found"):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])
    if record.state is State.TIMEOUT:
        raise subprocess.TimeoutExpired(argv, timeout or 0.0, output=out, stderr=err)
    if record.exit_code is not None:
        code = record.exit_code
    else:
        code = -15 if record.state is State.CANCELLED else 1
    if check and code != 0:
        raise subprocess.CalledProcessError(code, argv, output=out, stderr=err)
    return subprocess.CompletedProcess(argv, code, out, err)


def _read(path: os.PathLike[str]) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return b""


def slurm_reachable() -> bool:
    """Is a SLURM cluster usable from this machine: ``sbatch`` on the PATH and ``sinfo``
    answering within ``SLURM_PROBE_S`` with a node that is up. Asked once per process (for
    each PATH and SLURM_CONF: a program that changes them asks again)."""
    key = (os.environ.get("PATH", os.defpath), os.environ.get("SLURM_CONF", ""))
    if key not in _slurm_reachable:
        _slurm_reachable[key] = _probe_slurm()
    return _slurm_reachable[key]


def _probe_slurm() -> bool:
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return False
    try:
        answer = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True,
                                timeout=SLURM_PROBE_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    # a node state that is not down, drained or not responding ("idle*"): jobs can run
    states = answer.stdout.split() if answer.returncode == 0 else []
    return any(not state.endswith("*") and not state.startswith(("down", "drain", "fail"))
               for state in states)


def ensure_worker(q: Queue, slurm: bool = False) -> None:
    """A job needs a worker. On the user's personal default queue, start a background worker
    that runs only this user's jobs and leaves when idle (``slurm``: one that also submits to
    SLURM); on a shared queue, never (it would run other people's code as you): say that one
    is needed."""
    key = str(q.path)
    if time.monotonic() < _live_until.get(key, 0.0):
        return
    if q.workers():
        _live_until[key] = time.monotonic() + 1.0
        return
    if q.layout.is_system():
        raise NoWorker(f"no worker serves the system queue {q.path}: its service runs them (ask"
                       " its admin to start it: systemctl start"
                       f" {unit_name(q.path)})")
    if not paths.is_personal_default(q.path):
        raise NoWorker(f"no worker serves the queue {q.path}; start one with"
                       f" `jobmagics worker --queue {q.path}` (jobmagics never starts one on a"
                       " shared queue)")
    with open(q.path / ".auto-worker.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not q.workers():
            start_personal_worker(q, slurm=slurm)
    _live_until[key] = time.monotonic() + 1.0


def start_personal_worker(q: Queue, timeout: float = 15.0, slurm: bool = False) -> None:
    """Raises ``NoWorker`` with the worker's last line and its log (logs/auto-worker.log)."""
    from kernel_worker import spawn  # jobmagics imports kernel_worker only to start one
    spawn(q, "--only-user", q.user, "--idle-exit", str(AUTO_WORKER_IDLE_S),
          *(["--slurm"] if slurm else []), new_session=True,
          log=q.layout.root / "logs" / "auto-worker.log", timeout=timeout)
