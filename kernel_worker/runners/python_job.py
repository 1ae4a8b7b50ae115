"""Run a python job's code in a fresh interpreter; push/pull variables through the queue."""
from __future__ import annotations

import sys
import traceback

from jobmagics.client import Queue
from jobmagics.errors import ResultNotSent
from jobmagics.payloads import dump_exception, dump_pulled, load


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


def main(queue_path: str, job_id: str, queue: Queue | None = None) -> int:
    queue = queue or Queue(queue_path)
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
