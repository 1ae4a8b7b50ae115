"""Runs INSIDE a job's Jupyter kernel: sets the job up before its code, sends the pulled
variables (or the exception) back after it. The KernelExecutor calls these through small
silent executions, so nothing here shows up in the job's captured outputs; it builds each
call with ``kernel_work.kernel_call(kernel_prelude.FUNCTION, ...)``, typed by the function
here (see ``kernel_work``), never by a name in a string."""
from __future__ import annotations

import base64
import os
import sys
from typing import Any

from jobmagics import context
from jobmagics.client import shared_queue
from jobmagics.context import ATTEMPT_VAR, JOB_ID_VAR, QUEUE_VAR
from jobmagics.errors import ResultNotSent
from jobmagics.payloads import dump_exception, dump_pulled, load

from .zygote_report import encode_report

REPORT_ROOM = 1 << 20           # a bigger result is stored by the kernel itself
_reports: list[str] = []        # the ended job's result, until the worker takes it


def _user_namespace() -> dict[str, Any]:
    from IPython import get_ipython
    shell = get_ipython()
    return shell.user_ns if shell is not None else sys.modules["__main__"].__dict__


def begin_job(job_id: str, queue_path: str, cwd: str, env: dict[str, str],
              attempt: int | None = None, trusted: bool = True,
              payload: str | bool | None = False) -> None:
    """Point ``jobmagics.progress()`` at this job, enter its folder and load pushed variables
    (``payload``: as the worker read them, base64; None: the job has none; False: read them
    from the queue here). The attempt's marks go into ``os.environ``, so every process the job
    starts carries them (the worker finds those processes by them where it has no cgroups).

    Not ``trusted``: the job's owner may not run code in this kernel (an instrument's, in a
    system queue), so nothing of theirs that could run code here is taken: no pushed pickle, no
    environment, and the folder is "/" (a module in their folder would shadow the experiment's
    when the kernel imports it)."""
    context.enter_job(job_id, queue_path)
    os.environ.update(env)
    os.environ[JOB_ID_VAR], os.environ[QUEUE_VAR] = job_id, queue_path
    if attempt is not None:
        os.environ[ATTEMPT_VAR] = str(attempt)
    if os.path.isdir(cwd):
        os.chdir(cwd)
    # so that finish_job sees only this job's error
    sys.last_value = sys.last_type = sys.last_traceback = None
    if hasattr(sys, "last_exc"):      # Python 3.12 and later
        sys.last_exc = None
    pushed: bytes | None = None
    if trusted and payload is False:
        pushed = shared_queue(queue_path).store.payload(job_id)
    elif trusted and isinstance(payload, str):
        pushed = base64.b64decode(payload)
    if pushed is not None:
        _user_namespace().update(load(pushed))


def finish_job(job_id: str, queue_path: str, pull: list[str], failed: bool,
               report: bool = False) -> None:
    """Store the pulled variables (or the job's exception) where ``job.result()`` finds them;
    ``report``: a small result is handed to the worker instead (``take_report``), which records
    it with the end of the attempt, so the kernel need not open the queue at all."""
    try:
        if failed:
            error = getattr(sys, "last_value", None)
            if error is not None:
                _save(job_id, queue_path, report, False, dump_exception(error))
            return
        try:
            blob = dump_pulled(pull, _user_namespace())
        except ResultNotSent as exc:     # raised on (the worker fails the job with its line):
            _save(job_id, queue_path, False, False, dump_exception(exc), str(exc))  # no report
            raise
        _save(job_id, queue_path, report, True, blob)
    finally:
        end_job()


def _save(job_id: str, queue_path: str, report: bool, ok: bool, blob: bytes,
          error: str | None = None) -> None:
    _reports.clear()
    if report and len(blob) <= REPORT_ROOM:
        _reports.append(base64.b64encode(encode_report(ok, blob, error)).decode())
    else:
        shared_queue(queue_path).store.save_result(job_id, ok, blob, error=error)


def take_report() -> str | None:
    """The result ``finish_job`` kept for the worker (base64 of a ``zygote_report`` frame),
    once; the worker asks for it in the user expressions of the call to ``finish_job``."""
    return _reports.pop() if _reports else None


def end_job() -> None:
    """The job is over: ``progress()`` and the marks no longer point at it."""
    context.leave_job()
    os.environ.pop(JOB_ID_VAR, None)
    os.environ.pop(ATTEMPT_VAR, None)


def run_experiment_job(job_id: str, queue_path: str, trusted: bool = True) -> None:
    """Run experiment job ``job_id`` against the station the ``--startup`` file left in the
    global ``station`` (``run_experiment`` opens, and closes, one of its own if there is none).

    ``run_experiment`` saves the summary (or the exception) as the job's result itself, so the
    executor ends these jobs with ``end_job``, not ``finish_job``. Returns None: a non-silent
    execution would otherwise display the summary as an ``execute_result``."""
    from jobmagics.errors import JobmagicsError
    from jobmagics.experiments import run_experiment
    from jobmagics.instruments import STATION_GLOBAL

    # A station run_experiment opens itself is closed again at the end, not kept in globals:
    # holding the instrument between jobs is the startup file's explicit choice. Kept implicitly,
    # it would lock out every other user of the station (a second worker serving hardware, a
    # --no-kernel worker, a notebook) for as long as this kernel lives.
    # Not trusted: the class comes from where the admins installed it, never the job's folder
    # (a module of the owner's there would run in this kernel, as the service's account)
    try:
        run_experiment(job_id, queue_path, station=_user_namespace().get(STATION_GLOBAL),
                       trusted=trusted)
    except JobmagicsError as exc:       # bad config, unknown class, station in use: no traceback
        _shown_as(exc, str(exc))
        raise
    except KeyboardInterrupt as exc:    # cancel/timeout: the data file is already marked stopped
        _shown_as(exc, f"experiment stopped before the end ({str(exc) or 'interrupted'});"
                       " data so far kept")
        raise


def _shown_as(error: BaseException, line: str) -> None:
    """IPython shows an exception with ``_render_traceback_`` as the lines it returns: the
    job's log then ends with this one line, as the subprocess runner's does."""
    error._render_traceback_ = lambda: [line]  # type: ignore[attr-defined]
