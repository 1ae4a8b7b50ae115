"""One function per ``jobmagics`` subcommand."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from .. import paths
from ..client import Queue
from ..errors import InvalidJob, WaitTimeout
from ..model import State
from .tables import job_detail, jobs_table, table


def _queue(args: argparse.Namespace) -> Queue:
    return Queue(args.queue)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def cmd_init(args: argparse.Namespace) -> int:
    root = paths.resolve_queue_dir(args.dir)
    paths.init_shared(root, args.group)
    if args.journal:
        settings = paths.QueueLayout(root).read_settings() | {"journal": args.journal}
        paths.QueueLayout(root).settings.write_text(json.dumps(settings))
    q = Queue(root)
    for user in args.admin:
        q.add_admin(user)
    if args.group:
        paths.fix_shared_file_modes(q.layout)
    print(f"queue ready at {root}" + (f", shared with group {args.group}" if args.group else ""))
    return 0


def _submission(args: argparse.Namespace) -> dict[str, Any]:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    bodies = sum(x is not None and x != [] for x in (argv, args.code, args.file))
    if bodies != 1:
        raise InvalidJob("give a command after --, or --code CODE, or --file FILE.py (exactly one)")
    env = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidJob(f"--env {item!r}: write it as NAME=VALUE")
        env[key] = value
    options: dict[str, Any] = dict(name=args.name, priority=args.priority, resources=args.resource, cpus=args.cpus,
                                   memory=args.memory, after=args.after, timeout=args.timeout, retries=args.retries,
                                   cwd=args.cwd, env=env, hold=args.hold, backend=args.backend)
    if args.file is not None:
        try:
            with open(args.file, encoding="utf-8") as handle:
                options["code"] = handle.read()
        except OSError as exc:
            raise InvalidJob(f"--file {args.file}: {exc.strerror}") from None
        options["name"] = options["name"] or os.path.basename(args.file)
    elif args.code is not None:
        options["code"] = args.code
    else:
        options["command"] = argv
    return options


def cmd_submit(args: argparse.Namespace) -> int:
    q = _queue(args)
    job = q.submit(**_submission(args))
    print(job.id)
    if args.wait:
        return 0 if job.wait().state is State.COMPLETED else 1
    return 0


def cmd_queue(args: argparse.Namespace) -> int:
    jobs = _queue(args).queue()
    if args.json:
        _print_json([j.to_dict() for j in jobs])
    else:
        print(jobs_table(jobs))
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    if args.limit < 0:
        raise InvalidJob("--limit must be 0 or more")
    jobs = _queue(args).history(user=args.user, state=args.state, limit=args.limit)
    if args.json:
        _print_json([j.to_dict() for j in jobs])
    else:
        print(jobs_table(jobs))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    q = _queue(args)
    job = q.get(args.id)
    events = q.events(args.id)
    if args.json:
        _print_json(job.to_dict() | {"events": events})
    else:
        print(job_detail(job, events))
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    job = _queue(args).get(args.id)
    offset = 0
    while True:
        done = job.refresh().done
        chunk = job.log(offset)
        if chunk:
            sys.stdout.write(chunk)
            sys.stdout.flush()
            offset += len(chunk.encode("utf-8", errors="replace"))
        if not args.follow or done:
            return 0
        time.sleep(0.2)


def _each(verb: Callable[[str], Any], ids: list[str], said: str) -> int:
    for job_id in ids:
        verb(job_id)
        print(f"{job_id} {said}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    q = _queue(args)
    for job_id in args.ids:
        state = q.cancel(job_id)
        print(f"{job_id} " + ("cancelled" if state is State.CANCELLED else "is being stopped"))
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    job = _queue(args).retry(args.id)
    print(f"{job.id} {job.state.value} (attempt {job.attempt})")
    return 0


def cmd_hold(args: argparse.Namespace) -> int:
    return _each(_queue(args).hold, [args.id], "held")


def cmd_release(args: argparse.Namespace) -> int:
    return _each(_queue(args).release, [args.id], "released")


def cmd_delete(args: argparse.Namespace) -> int:
    return _each(_queue(args).delete, [args.id], "deleted")


def cmd_pause(args: argparse.Namespace) -> int:
    _queue(args).pause(args.resource)
    print(f"paused {args.resource or 'the queue'}: running jobs carry on, no new ones start")
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    _queue(args).resume(args.resource)
    print(f"resumed {args.resource or 'the queue'}")
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    q = _queue(args)
    jobs = [q.get(i) for i in args.ids]
    deadline = None if args.timeout is None else time.monotonic() + args.timeout
    for job in jobs:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            job.wait(remaining)
        except WaitTimeout as exc:
            print(f"jobmagics: {exc}", file=sys.stderr)
            return 1
    bad = [j for j in jobs if j.state is not State.COMPLETED]
    for job in bad:
        print(f"{job.id} {job.state.value}" + (f": {job.error}" if job.error else ""), file=sys.stderr)
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
                ([w["id"], w["user"], str(w["slots"]), ",".join(w["resources"]) or "-", "yes" if w["alive"] else "no",
                  f"{time.time() - w['heartbeat_at']:.1f}s ago"] for w in workers)) if workers else "no workers")
    if stats["paused"]:
        print("\nthe queue is PAUSED (jobmagics resume)")
    return 0


def cmd_admin(args: argparse.Namespace) -> int:
    q = _queue(args)
    if args.action == "list":
        print("\n".join(q.admins()) or "no admins")
        return 0
    if not args.user:
        raise InvalidJob(f"admin {args.action} needs a USER")
    (q.add_admin if args.action == "add" else q.remove_admin)(args.user)
    print(f"{args.user} {'is now' if args.action == 'add' else 'is no longer'} an admin of {q.path}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    name[4:]: fn for name, fn in globals().items() if name.startswith("cmd_")}
