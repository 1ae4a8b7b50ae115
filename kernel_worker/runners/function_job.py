"""Run a function job: unpickle (f, args, kwargs), call it, store the value or the exception."""
from __future__ import annotations

import sys
import traceback

from jobmagics.client import Queue
from jobmagics.payloads import dump_result, load


def main(queue_path: str, job_id: str, queue: Queue | None = None) -> int:
    queue = queue or Queue(queue_path)
    payload = queue.store.payload(job_id)
    if payload is None:
        print(f"{job_id} has no function payload", file=sys.stderr)
        return 2
    try:
        function, args, kwargs = load(payload)
        value = function(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - the job's own failure, sent back to the caller
        traceback.print_exc()
        queue.store.save_result(job_id, False, dump_result(False, exc))
        return 1
    queue.store.save_result(job_id, True, dump_result(True, value))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
