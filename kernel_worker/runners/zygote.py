"""A pre-imported Python that forks one child per job of a kind that may be forked
(``kernel_worker.kinds``: function and python jobs).

Starting an interpreter and importing jobmagics, cloudpickle and numpy costs tens of
milliseconds of CPU per job; a fork of this already-prepared process costs about one. The worker
starts one zygote and writes one JSON order per line to its stdin; the zygote answers each with
the child's pid. The zygote stays single-threaded (forking a threaded process is unsafe) and
lets the kernel reap its children (SIGCHLD ignored): the worker waits on a pidfd and reads the
outcome from the job's stored result."""
from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import sys
import time
from typing import Any

import cloudpickle  # noqa: F401 - imported here so that children do not pay for it

from jobmagics.client import Queue
from jobmagics.errors import InvalidJob
from jobmagics.payloads import dump_exception
from kernel_worker.identity import Identity
from kernel_worker.kinds import EXECUTIONS, forkable_runner

FENCE_S = 10.0
# the runners of the kinds that may be forked, imported here so that children do not pay for it
RUNNERS = {e.runner: importlib.import_module(e.runner)
           for e in EXECUTIONS.values() if e.forkable and e.runner is not None}


def main(queue_path: str, as_owners: bool = False) -> int:
    """Serve orders until stdin closes. ``as_owners`` (a system queue served by root): every
    child becomes its job's owner before it reads anything of the job, and opens the queue
    anew as that account; the zygote itself never opens the queue, so no child inherits a
    connection to the database made by root."""
    queue = None if as_owners else Queue(queue_path)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in sys.stdin:
        order = json.loads(line)
        pid = os.fork()
        if pid == 0:
            os._exit(run_child(queue, order, queue_path))
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()
    return 0


def run_child(queue: Queue | None, order: dict[str, Any], queue_path: str) -> int:
    """In the forked child: become the job's own process group, with its output, and (in a
    system queue) its owner's account, then its folder and environment; wait until the worker
    has recorded our pid (so a worker dying now never leaves an unknown copy running); then run
    the job as the cold runners would."""
    try:
        _join(order.get("join"))
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        identity = Identity.from_json(order["identity"]) if order.get("identity") else None
        _redirect(order, identity)
        if identity is not None:
            identity.drop()             # before anything of the job is read, unpickled, imported
        os.chdir(order["cwd"])
        os.environ.clear()
        os.environ.update(order["env"])
        sys.path[0] = order["cwd"]
        sys.path[1:1] = [p for p in order["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
        queue = queue if queue is not None else Queue(queue_path)
        if not _pid_recorded(queue, order["job_id"]):
            return 3
        code = _run(queue, order["job_id"], order["kind"])
    except BaseException:  # noqa: BLE001 - a child must never return into the zygote's loop
        import traceback
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _run(queue: Queue, job_id: str, kind: str) -> int:
    """Run the job as the cold runner of its kind would. A kind the zygote may not fork
    (unknown, or one that is not Python of ours) fails the job saying so: it never runs as
    some other kind."""
    try:
        runner = RUNNERS[forkable_runner(kind)]
    except InvalidJob as exc:
        message = f"cannot run {job_id} here: {exc}"
        print(message, file=sys.stderr)
        queue.store.save_result(job_id, False, dump_exception(exc), error=message)
        return 2
    code: int = runner.main(str(queue.path), job_id, queue)
    return code


def _join(path: str | None) -> None:
    """Join the attempt's process container (a cgroup) before anything of the job runs, so
    nothing it starts can leave it; the worker finds the job by its marks where this fails."""
    if path:
        with contextlib.suppress(OSError), open(path, "w") as handle:
            handle.write("0")


def _redirect(order: dict[str, Any], identity: Identity | None) -> None:
    """stdin from /dev/null, stdout (and stderr) to the job's log, given to the job's owner."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    log = _open_output(order["log"], identity)
    os.dup2(log, 1)
    stderr = _open_output(order["stderr"], identity) if order.get("stderr") else log
    os.dup2(stderr, 2)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)


def _open_output(path: str, identity: Identity | None) -> int:
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    if identity is not None:
        identity.own_descriptor(descriptor)
    return descriptor


def _pid_recorded(queue: Queue, job_id: str) -> bool:
    deadline = time.monotonic() + FENCE_S
    while time.monotonic() < deadline:
        if queue.store.pid_of(job_id)[0] == os.getpid():
            return True
        time.sleep(0.001)
    return False


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], as_owners="--as-owners" in sys.argv[2:]))
