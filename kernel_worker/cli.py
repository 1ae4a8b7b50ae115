"""``python -m kernel_worker``: the same worker as ``jobmagics worker``."""
from __future__ import annotations

import argparse
import grp
import logging
import os
import sys

from jobmagics.errors import JobmagicsError, QueueError
from jobmagics.paths import QueueLayout, current_user, resolve_queue_dir

from .options import WorkerOptions, add_worker_arguments, options_from_args
from .worker import Worker


def serve(args: argparse.Namespace) -> int:
    """``jobmagics worker``: a worker of the account that starts it."""
    _log_to_stderr()
    options = options_from_args(args)
    layout = QueueLayout(resolve_queue_dir(options.queue))
    refuse_system_queue(layout)
    if options.only_user != current_user():
        print(f"jobmagics worker: {whose_jobs(layout, options)} {_run_as(layout)}",
              file=sys.stderr, flush=True)
    return Worker(options).run()


def serve_system(layout: QueueLayout, args: argparse.Namespace) -> int:
    """``jobmagics service``: a system queue's service (the only writer of its database) and,
    in the same process, the worker of every user's jobs, each run as its owner. It ends on
    SIGTERM or Ctrl-C like any worker (running jobs get the shutdown grace, then go back to
    the queue); the service's socket goes with it."""
    from jobmagics.service import serve as serve_requests

    _log_to_stderr()
    options = options_from_args(args, serves_everyone=True)
    options.queue = str(layout.root)
    service = serve_requests(layout)
    try:
        return Worker(options).run()
    finally:
        service.close()


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        stream=sys.stderr)


def refuse_system_queue(layout: QueueLayout) -> None:
    """Only the service works a system queue: it runs each job as its owner. A worker of
    another account would run them as itself (and cannot write the queue anyway)."""
    if os.geteuid() != 0 and _is_system(layout):
        from jobmagics.service.unit import unit_name
        raise QueueError(f"{layout.root} is a system queue: only its service runs jobs there,"
                         f" each as its owner; if no job starts, ask an admin to start it"
                         f" (sudo systemctl start {unit_name(layout.root)})")


def _is_system(layout: QueueLayout) -> bool:
    try:
        return layout.is_system()
    except OSError:           # a folder this account cannot read: the worker says so itself
        return False


def _run_as(layout: QueueLayout) -> str:
    if _is_system(layout):          # root's worker there starts each job as its owner
        return "will run, each as its owner (a system queue: `jobmagics service` runs its jobs)"
    return f"will run as {current_user()} (your account, with your files and rights)"


def whose_jobs(layout: QueueLayout, options: WorkerOptions) -> str:
    """What the worker serves that is not its starter's, in words."""
    if options.only_user is not None:
        return f"{options.only_user}'s jobs"
    try:
        group = grp.getgrgid(layout.root.stat().st_gid).gr_name
    except (OSError, KeyError):
        return f"every user's jobs on {layout.root}"
    return f"the jobs of every member of group {group} on {layout.root}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernel_worker",
                                     description="Run a jobmagics worker.")
    parser.add_argument("--queue", default=None,
                        help="queue folder (default: $JOBMAGICS_QUEUE or ~/.jobmagics/queue)")
    add_worker_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return serve(args)
    except JobmagicsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
