"""Run a python job's code in a fresh interpreter; push/pull variables through the queue (or,
on a batch system's compute node, through files the worker wrote and ingests)."""
from __future__ import annotations

import sys
import traceback
from typing import Any

from jobmagics import progress_bars
from jobmagics.context import progress
from jobmagics.errors import ResultNotSent
from jobmagics.payloads import dump_exception, dump_pulled, load

from .files import queue_for


def run_cell(code: str, job_id: str, namespace: dict[str, object]) -> None:
    """Plain Python runs as it is; a cell with IPython syntax (``%magic``, ``!cmd``) runs in an
    IPython shell, as it would in a kernel."""
    try:
        compiled = compile(code, f"<{job_id}>", "exec")
    except SyntaxError:
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance(user_ns=namespace)
        result = shell.run_cell(code, store_history=False)
        result.raise_error()
        return
    exec(compiled, namespace)  # noqa: S102 - running the job's code is the point


def main(queue_path: str, job_id: str, queue: Any = None) -> int:
    """``queue``: a ``Queue`` or a stand-in with its ``store``'s ``get``/``payload``/
    ``save_result`` (a forked child's, or the files of a batch system's job)."""
    progress_bars.install(progress)          # its tqdm bars report to the job
    queue = queue or queue_for(queue_path, job_id)
    record = queue.store.get(job_id)
    namespace: dict[str, object] = {"__name__": "__main__"}
    pushed = queue.store.payload(job_id)
    if pushed is not None:
        namespace.update(load(pushed))
    try:
        run_cell(record.code or "", job_id, namespace)
    except BaseException as exc:  # noqa: BLE001 - the job's own failure, reported as such
        traceback.print_exc()
        queue.store.save_result(job_id, False, dump_exception(exc))
        return 1
    try:
        blob = dump_pulled(record.options.pull or [], namespace)
    except ResultNotSent as exc:
        print(exc, file=sys.stderr)
        queue.store.save_result(job_id, False, dump_exception(exc), error=str(exc))
        return 1
    queue.store.save_result(job_id, True, blob)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
