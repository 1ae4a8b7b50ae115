"""Runs INSIDE a job's Jupyter kernel: sets the job up before its code, sends the pulled
variables (or the exception) back after it. The KernelExecutor calls these through small
silent executions, so nothing here shows up in the job's captured outputs."""
from __future__ import annotations

import os
import sys
from typing import Any

from jobmagics import context
from jobmagics.context import JOB_ID_VAR, QUEUE_VAR
from jobmagics.payloads import dump_result, load


def _user_namespace() -> dict[str, Any]:
    from IPython import get_ipython
    shell = get_ipython()
    return shell.user_ns if shell is not None else sys.modules["__main__"].__dict__


def begin_job(job_id: str, queue_path: str, cwd: str, env: dict[str, str]) -> None:
    """Point ``jobmagics.progress()`` at this job, enter its folder and load pushed variables."""
    context.enter_job(job_id, queue_path)
    os.environ.update(env)
    os.environ[JOB_ID_VAR], os.environ[QUEUE_VAR] = job_id, queue_path
    if os.path.isdir(cwd):
        os.chdir(cwd)
    sys.last_value = sys.last_type = sys.last_traceback = None  # so finish_job sees only this job's error
    if hasattr(sys, "last_exc"):
        sys.last_exc = None  # type: ignore[attr-defined]
    payload = context._queue(queue_path).store.payload(job_id)
    if payload is not None:
        _user_namespace().update(load(payload))


def finish_job(job_id: str, queue_path: str, pull: list[str], failed: bool) -> None:
    """Store the pulled variables (or the job's exception) where ``job.result()`` finds them."""
    store = context._queue(queue_path).store
    try:
        if failed:
            error = getattr(sys, "last_value", None)
            if error is not None:
                store.save_result(job_id, False, dump_result(False, error))
            return
        namespace = _user_namespace()
        missing = [name for name in pull if name not in namespace]
        if missing:
            raise NameError(f"cannot pull {', '.join(missing)}: not defined by the job")
        store.save_result(job_id, True, dump_result(True, {name: namespace[name] for name in pull}))
    finally:
        context._current.clear()
        os.environ.pop(JOB_ID_VAR, None)
