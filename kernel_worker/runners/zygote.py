"""A pre-imported Python that forks one child per job of a kind that may be forked
(``kernel_worker.kinds``: function and python jobs).

Starting an interpreter and importing jobmagics, cloudpickle and numpy costs tens of
milliseconds of CPU per job; a fork of this already-prepared process costs about one. The worker
starts one zygote and sends it one order per job over a Unix socket (its stdin): a JSON header,
the job's payload after it when the worker read it, and the write end of a pipe on which the
child reports the job's result (``executors.zygote_report``). The zygote answers each order
with the child's pid and a pidfd of it (``executors.forking``): the worker waits on the pidfd
and reads the outcome from that pipe (or, where the child could not use it, from the job's
stored result)."""
from __future__ import annotations

import ctypes
import gc
import importlib
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import cloudpickle  # noqa: F401 - imported here so that children do not pay for it

from jobmagics.client import Queue
from jobmagics.errors import InvalidJob
from jobmagics.payloads import dump_exception
from kernel_worker.executors import forking
from kernel_worker.executors.zygote_report import ChildQueue, split_order
from kernel_worker.identity import Identity
from kernel_worker.kinds import EXECUTIONS, forkable_runner

FENCE_S = 10.0


def _raw_fork() -> Callable[[], int] | None:
    """The C library's fork, called with the GIL held (see _fork)."""
    try:
        fork = ctypes.PyDLL(None, use_errno=True).fork
    except (OSError, AttributeError):
        return None
    fork.restype = ctypes.c_int
    return fork


_RAW_FORK = _raw_fork()
# the runners of the kinds that may be forked, imported here so that children do not pay for it
RUNNERS = {e.runner: importlib.import_module(e.runner)
           for e in EXECUTIONS.values() if e.forkable and e.runner is not None}


def main(queue_path: str, as_owners: bool = False) -> int:
    """Serve orders until the worker closes its end. ``as_owners`` (a system queue served by
    root): every child becomes its job's owner before it reads anything of the job, and opens
    the queue anew as that account; the zygote itself never opens the queue, so no child
    inherits a connection to the database made by root."""
    queue = None if as_owners else Queue(queue_path)
    # a child only points descriptors 1 and 2 at its log: these objects are made once, here
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
    gc.collect()
    gc.freeze()         # children then leave the objects imported here alone (fewer copies)

    def child(prepared: tuple[dict[str, Any], bytes | bool | None], descriptors: list[int]) -> int:
        return run_child(queue, prepared[0], prepared[1], descriptors, queue_path)

    # the order is read here, once: in each child it would copy more pages
    return forking.serve(split_order, child, fork=_fork)


def _fork() -> int:
    """``fork()`` without Python's after-fork handlers where that is safe. ``os.fork`` runs
    them in the child (threading's, logging's, the interpreter's own), and their writes to
    memory shared with the zygote cost the child over 200 page copies: about half of a small
    job's CPU on a virtual machine. They repair what other threads were doing at the fork;
    the zygote has no other thread, so in its child they have nothing to repair, except the
    seed of ``random`` (if imported here), which each child must not share (``run_child``)."""
    if _RAW_FORK is None or threading.active_count() != 1:
        return os.fork()
    pid = int(_RAW_FORK())
    if pid < 0:
        raise OSError(ctypes.get_errno(), "fork failed")
    return pid


def _after_fork() -> None:
    """What ``os.fork``'s handlers would do in the child that matters here (see ``_fork``)."""
    if "random" in sys.modules:
        sys.modules["random"].seed()


def run_child(queue: Queue | None, order: dict[str, Any], payload: bytes | bool | None,
              descriptors: list[int], queue_path: str) -> int:
    """In the forked child: join the attempt's container, become the job's own process group,
    with its output, and (in a system queue) its owner's account, then its folder and
    environment; where the container could not be joined, wait until the worker has recorded
    our pid (so a worker dying now never leaves an unknown copy running); then run the job as
    the cold runners would, reporting its result to the worker."""
    try:
        _after_fork()
        joined = _join(order.get("join"))
        os.setsid()
        identity = Identity.from_json(order["identity"]) if order.get("identity") else None
        _redirect(order, identity)
        if identity is not None:
            identity.drop()             # before anything of the job is read, unpickled, imported
        os.chdir(order["cwd"])
        _set_environment(order["env"], order["unset"])
        sys.path[0] = order["cwd"]
        sys.path[1:1] = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        child = ChildQueue(queue_path, queue, payload, descriptors[0] if descriptors else None)
        if not joined and not _pid_recorded(child.real(), order["job_id"]):
            return 3
        code = _run(child, order["job_id"], order["kind"])
    except BaseException:  # noqa: BLE001 - a child must never return into the zygote's loop
        import traceback
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _run(queue: ChildQueue, job_id: str, kind: str) -> int:
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
    code: int = runner.main(queue.path_text, job_id, queue)
    return code


def _join(path: str | None) -> bool:
    """Join the attempt's process container (a cgroup) before anything of the job runs, so
    nothing it starts can leave it; False where there is none or this fails (the worker then
    finds the job by its recorded process group: see ``_pid_recorded``). (``os.open``, not
    ``open``: a file object would cost the child a hundred page copies.)"""
    if not path:
        return False
    try:
        descriptor = os.open(path, os.O_WRONLY)
        try:
            os.write(descriptor, b"0")
        finally:
            os.close(descriptor)
        return True
    except OSError:
        return False


def _set_environment(changed: dict[str, str], removed: list[str]) -> None:
    """The job's environment: the order says how it differs from the zygote's (the worker's
    own, mostly: rewriting all of it would cost the child a hundred page copies)."""
    for key in removed:
        os.environ.pop(key, None)
    os.environ.update(changed)


def _redirect(order: dict[str, Any], identity: Identity | None) -> None:
    """stdin from /dev/null, stdout (and stderr) to the job's log, given to the job's owner
    (``sys.stdout`` and ``sys.stderr`` write to descriptors 1 and 2: see ``main``)."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    log = _open_output(order["log"], identity)
    os.dup2(log, 1)
    stderr = _open_output(order["stderr"], identity) if order.get("stderr") else log
    os.dup2(stderr, 2)


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
