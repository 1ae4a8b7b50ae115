"""Run a function job: unpickle (f, args, kwargs), call it, store the value or the exception
(in the queue, or, on a batch system's compute node, as a file the worker ingests)."""
from __future__ import annotations

import sys
import traceback
from typing import Any

from jobmagics import progress_bars
from jobmagics.context import progress
from jobmagics.errors import ResultNotSent
from jobmagics.payloads import dump_exception, dump_value, load

from .files import queue_for

MAX_ERROR = 500


def main(queue_path: str, job_id: str, queue: Any = None) -> int:
    """``queue``: a ``Queue`` or a stand-in with its ``store``'s ``payload``/``save_result``
    (a forked child's, or the files of a batch system's job)."""
    progress_bars.install(progress)          # its tqdm bars report to the job
    queue = queue or queue_for(queue_path, job_id)
    payload = queue.store.payload(job_id)
    if payload is None:
        print(f"{job_id} has no function payload", file=sys.stderr)
        return 2
    try:
        function, args, kwargs = load(payload)
        value = function(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - the job's own failure, sent back to the caller
        traceback.print_exc()
        return _failed(queue, job_id, exc, f"{type(exc).__name__}: {exc}")
    try:
        blob = dump_value(value, "its return value")
    except ResultNotSent as exc:
        # the function ran, but the caller can never have its value: that is not a completion
        print(f"{exc} (the value was {value!r:.200})", file=sys.stderr)
        return _failed(queue, job_id, exc, str(exc))
    queue.store.save_result(job_id, True, blob)
    return 0


def _failed(queue: Any, job_id: str, exc: BaseException, error: str) -> int:
    """Store the exception for ``result()`` and one line for the job's error."""
    queue.store.save_result(job_id, False, dump_exception(exc), error=error[:MAX_ERROR])
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
