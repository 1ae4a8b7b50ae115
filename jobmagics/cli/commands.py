"""One function per ``jobmagics`` subcommand."""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from .. import paths
from ..client import Queue
from ..display import move_lines
from ..errors import InvalidJob, WaitTimeout, WorkerLost
from ..fields import from_arguments
from ..job import Job
from ..job_array import JobArray
from ..model import JobSettings, State
from . import configs, editing, notify, retention, schedules
from .arrays import array_detail, arrays_table, submit_array, unfinished_line
from .bodies import body_from_arguments
from .maintenance import cmd_backup, cmd_recover  # noqa: F401  (cmd_backup: via COMMANDS)
from .parser import STATUS_ELEMENTS
from .system import (  # noqa: F401  (the cmd_ functions: via COMMANDS)
    admins,
    cmd_allow,
    cmd_install_service,
    cmd_service,
    init_system,
    operators,
)
from .tables import job_detail, jobs_table, more_line, table


def _queue(args: argparse.Namespace) -> Queue:
    return Queue(args.queue)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def cmd_init(args: argparse.Namespace) -> int:
    if args.recover or args.backup_file:
        return cmd_recover(args)
    if args.system:
        return init_system(args)
    if args.private_files:
        raise InvalidJob("--private-files goes with --system (a group queue's files are the"
                         " group's)")
    root = paths.resolve_queue_dir(args.dir)
    paths.init_shared(root, args.group)
    if args.journal:
        settings = paths.QueueLayout(root).read_settings() | {"journal": args.journal}
        paths.QueueLayout(root).settings.write_text(json.dumps(settings))
    q = Queue(root)
    if args.admin:
        q.add_admin(*args.admin)        # every account checked before any is added
    if args.group:
        paths.fix_shared_file_modes(q.layout)
    print(f"queue ready at {root}" + (f", shared with group {args.group}" if args.group else ""))
    return 0


def _submission(args: argparse.Namespace) -> dict[str, Any]:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    body = body_from_arguments(args, argv)
    return {**body, **from_arguments(JobSettings, args)}    # --name over --file's name


def cmd_submit(args: argparse.Namespace) -> int:
    q = _queue(args)
    options = _submission(args)
    submitted: Job | JobArray = (q.submit(**options) if args.array is None
                                 else submit_array(q, args.array, options))
    print(submitted.id)
    if args.wait:
        return 0 if submitted.wait().state is State.COMPLETED else 1
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    """Each active array as one line (``--elements``: its elements one by one), then the jobs."""
    page = _queue(args).queue(limit=None if args.all else args.limit, elements=args.elements)
    more = more_line(page)
    if args.json:                     # arrays first, each marked "array": true
        _print_json([a.to_dict() for a in page.arrays] + [j.to_dict() for j in page])
        if more:                      # stdout stays one JSON document
            print(f"jobmagics: {more}", file=sys.stderr)
        return 0
    if page.arrays:
        print(arrays_table(page.arrays))
        if page or more:
            print()
    if page or more or not page.arrays:
        print(jobs_table(page) if page or not more else more)
        if page and more:
            print(more)
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    jobs = _queue(args).history(user=args.user, state=args.state, limit=args.limit + 1)
    older = len(jobs) > args.limit          # one more than asked for says whether there are more
    jobs = jobs[:args.limit]
    if args.json:
        _print_json([j.to_dict() for j in jobs])
    else:
        print(jobs_table(jobs))
        if older:
            print(f"... and older ones (jobmagics history --limit {max(args.limit * 2, 20)})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    q = _queue(args)
    found = q.lookup(args.id)
    if isinstance(found, JobArray):
        return _array_status(args, found)
    if args.limit is not None or args.offset or args.state:
        raise InvalidJob(f"--offset, --limit and --state page an array's elements; {args.id} is"
                         " one job")
    job = found
    events = q.events(args.id)
    if args.json:
        _print_json(job.to_dict() | {"events": events, "notifications": [
            n.to_dict() for n in job.notifications()]})
    else:
        print(job_detail(job, events))
    return 0


def _array_status(args: argparse.Namespace, array: JobArray) -> int:
    limit = STATUS_ELEMENTS if args.limit is None else args.limit
    elements = array.elements_page(offset=args.offset, limit=limit, state=args.state)
    if args.json:
        _print_json(array.to_dict() | {"offset": args.offset, "limit": limit,
                                       "elements": [j.to_dict() for j in elements]})
        return 0
    counts = array.last_read.counts
    states = args.state.split(",") if args.state else list(counts)
    matching = sum(counts.get(s.strip(), 0) for s in states)
    print(array_detail(array, elements, args.offset, matching))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    """The job's output, byte for byte (invalid UTF-8 shows as U+FFFD); ``-f`` follows it."""
    job = _queue(args).lookup(args.id)
    if isinstance(job, JobArray):
        raise InvalidJob(f"{job.id} is an array of {job.size:,} jobs, each with its own log:"
                         f" give one (jobmagics logs {job.id}_INDEX; jobmagics status {job.id}"
                         " lists them)")
    reader = job.log_reader()
    while True:
        done = job.refresh().done        # read the state first: a finished job's log is complete
        text = reader.read(final=done or not args.follow)
        if text:
            sys.stdout.write(text)
            sys.stdout.flush()
        if not args.follow or done:
            return 0
        try:
            job.check_recoverable()
        except WorkerLost as exc:
            print(f"jobmagics: {exc}", file=sys.stderr)
            return 1
        time.sleep(0.2)


def _act(args: argparse.Namespace, action: str,
         job_line: Callable[[str, State | None], str]) -> int:
    """Every id or none (Queue.apply checks them all first); a line per job, and one per array
    saying how many of its elements changed."""
    outcomes = _queue(args).apply(action, args.ids)
    for line in move_lines(action, args.ids, outcomes, job_line):
        print(line)
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    return _act(args, "cancel", lambda job_id, state: f"{job_id} " + (
        "is being stopped" if state is State.RUNNING else "cancelled"))


def cmd_retry(args: argparse.Namespace) -> int:
    q = _queue(args)
    return _act(args, "retry", lambda job_id, state: (
        f"{job_id} {state} (attempt {q.get(job_id).last_read.attempt})"))


def cmd_hold(args: argparse.Namespace) -> int:
    return _act(args, "hold", lambda job_id, _: f"{job_id} held")


def cmd_release(args: argparse.Namespace) -> int:
    return _act(args, "release", lambda job_id, state: f"{job_id} released ({state})")


def cmd_delete(args: argparse.Namespace) -> int:
    return _act(args, "delete", lambda job_id, _: f"{job_id} deleted")


def cmd_pause(args: argparse.Namespace) -> int:
    _queue(args).pause(args.resource)
    print(f"paused {args.resource or 'the queue'}: running jobs carry on, no new ones start")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    _queue(args).resume(args.resource)
    print(f"resumed {args.resource or 'the queue'}")
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    """Jobs and arrays (an array: until every element ended); 0 only if all completed."""
    q = _queue(args)
    targets = [q.lookup(i) for i in args.ids]
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    for target in targets:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            target.wait(remaining)
        except (WaitTimeout, WorkerLost) as exc:
            print(f"jobmagics: {exc}", file=sys.stderr)
            return 1
    bad = [t for t in targets if t.state is not State.COMPLETED]
    for target in bad:
        print(unfinished_line(target), file=sys.stderr)
    return 1 if bad else 0


def cmd_worker(args: argparse.Namespace) -> int:
    from kernel_worker.cli import (
        serve,  # the CLI starts workers; nothing else imports kernel_worker
    )
    return serve(args)


def cmd_stats(args: argparse.Namespace) -> int:
    stats = _queue(args).stats()
    if args.json:
        _print_json(stats)
        return 0
    print(table(["STATE", "JOBS"], ([s, str(n)] for s, n in stats["states"].items())))
    print()
    print(table(["RESOURCE", "CAPACITY", "IN USE", "PAUSED"],
                ([n, str(r["capacity"]), str(r["in_use"]), "yes" if r["paused"] else "no"]
                 for n, r in stats["resources"].items())))
    print()
    workers = stats["workers"]
    print(table(["WORKER", "USER", "SLOTS", "RESOURCES", "ALIVE", "HEARTBEAT"],
                ([w["id"], w["user"], str(w["slots"]), ",".join(w["resources"]) or "-",
                  "yes" if w["alive"] else "no", f"{time.time() - w['heartbeat_at']:.1f}s ago"]
                 for w in workers)) if workers else "no workers")
    if stats["paused"]:
        print("\nthe queue is PAUSED (jobmagics resume)")
    return 0


def cmd_admin(args: argparse.Namespace) -> int:
    q = _queue(args)
    if args.action == "operators":
        return operators(q, args.words)
    return admins(q, [args.action, *args.words])


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    name[4:].replace("_", "-"): fn for name, fn in globals().items() if name.startswith("cmd_")}
for _module in (editing, schedules, notify, retention, configs):
    COMMANDS.update(_module.COMMANDS)
