"""``jobmagics schedule add|list|runs|pause|resume|remove|run-now``: recurring jobs."""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..client import Queue
from ..recurrence import OVERLAPS, ScheduleRecord
from ..schedules import until
from .submission import add_body_options, add_job_options, job_submission
from .tables import jobs_table, table

_OPTIONS_AFTER_NAME: list[argparse.ArgumentParser] = []   # made with the parser
QUEUE_HELP = "queue folder (default: $JOBMAGICS_QUEUE or ~/.jobmagics/queue)"
VERBS = {"pause": "stop submitting its runs (one already submitted carries on)",
         "resume": "submit its runs again, from its next due time after now",
         "remove": "delete the schedule (the jobs it submitted stay)",
         "run-now": "submit a run now (its due times stay as they are)"}


def add_commands(sub: Any) -> None:
    """Add this module's subcommands to ``jobmagics``."""
    p = sub.add_parser("schedule", help="recurring jobs: add, list, runs, pause, resume,"
                                        " remove, run-now")
    verbs = p.add_subparsers(dest="schedule_action", required=True, metavar="ACTION",
                             parser_class=type(p))
    add = verbs.add_parser("add", help="submit a job again and again: --every 1h or --cron"
                                       " '0 */2 * * *', then the job as for submit")
    add.add_argument("name", metavar="NAME", help="the schedule's name (unique in the queue)")
    _add_options(add)
    add_body_options(add)
    add.add_argument("argv", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    late = type(add)(prog="jobmagics schedule add", argument_default=argparse.SUPPRESS)
    _add_options(late)
    add_body_options(late)
    _OPTIONS_AFTER_NAME.append(late)        # (the CLI's one-line parser class, as given)
    listing = verbs.add_parser("list", help="every schedule with its next run and its last")
    listing.add_argument("--user", help="only this user's")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    runs = verbs.add_parser("runs", help="the jobs a schedule submitted, newest first")
    runs.add_argument("name", metavar="NAME")
    runs.add_argument("--limit", type=int, default=20, metavar="N", help="default 20")
    runs.add_argument("--json", action="store_true", help="machine-readable output")
    for verb, text in VERBS.items():
        p = verbs.add_parser(verb, help=f"{text}: every NAME, or none if one cannot be")
        p.add_argument("names", nargs="+", metavar="NAME")
    for parser in verbs.choices.values():
        parser.add_argument("--queue", metavar="DIR", default=argparse.SUPPRESS,
                            help=QUEUE_HELP)


def _add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--every", metavar="DURATION", help="90s, 30m, 1h, 1d")
    p.add_argument("--cron", metavar="EXPR", help="five cron fields, e.g. '0 */2 * * *'")
    p.add_argument("--tz", metavar="ZONE", help="the cron's time zone (default: this"
                                                " machine's), e.g. Europe/Berlin")
    p.add_argument("--overlap", choices=OVERLAPS, default="skip",
                   help="skip (default): no run while the previous one is still going;"
                        " queue: submit it anyway")
    add_job_options(p)


def _options_after_name(args: argparse.Namespace) -> None:
    """argparse hands everything after NAME to the command (a positional followed by the
    command's REMAINDER): the options before ``--`` are parsed here, the rest is the command."""
    cut = args.argv.index("--") if "--" in args.argv else len(args.argv)
    head, args.argv = args.argv[:cut], args.argv[cut:]
    _OPTIONS_AFTER_NAME[-1].parse_args(head, namespace=args)


def cmd_schedule(args: argparse.Namespace) -> int:
    q = Queue(args.queue)
    action = args.schedule_action
    if action == "add":
        return _add(q, args)
    if action == "list":
        return _list(q, args)
    if action == "runs":
        jobs = q.get_schedule(args.name).runs(args.limit)
        if args.json:
            print(json.dumps([j.to_dict() for j in jobs], indent=2, default=str))
        else:
            print(jobs_table(jobs) if jobs else f"{args.name} has submitted no job yet")
        return 0
    for name, ids in q.act_on_schedules(action, args.names):
        print(f"{name}: submitted {', '.join(ids)}" if action == "run-now" else
              f"{name} {'removed' if action == 'remove' else action + 'd'}")
    return 0


def _add(q: Queue, args: argparse.Namespace) -> int:
    _options_after_name(args)
    schedule = q.schedule(args.name, every=args.every, cron=args.cron, tz=args.tz,
                          overlap=args.overlap, **job_submission(args))
    record = schedule.last_read
    print(f"{record.name}: {record.rhythm.describe()}, first run {next_run(record)}")
    return 0


def _list(q: Queue, args: argparse.Namespace) -> int:
    records = [s.last_read for s in q.schedules(args.user)]
    if args.json:
        print(json.dumps([r.to_dict() for r in records], indent=2, default=str))
        return 0
    if not records:
        print("no schedules (jobmagics schedule add NAME --every 1h -- CMD)")
        return 0
    print(table(["NAME", "OWNER", "RHYTHM", "NEXT RUN", "LAST RUN", "OVERLAP", "NOTE"],
                ([r.name, r.user, r.rhythm.describe(), next_run(r), last_run(r), r.overlap,
                  r.last_note or "-"] for r in records)))
    return 0


def next_run(record: ScheduleRecord, now: float | None = None) -> str:
    """"14:00 (in 5m 00s)", with the date when it is not today; "paused"."""
    if record.paused:
        return "paused"
    now = time.time() if now is None else now
    when = datetime.fromtimestamp(record.next_at)
    shown = when.strftime("%H:%M:%S" if when.second else "%H:%M")
    if when.date() != datetime.fromtimestamp(now).date():
        shown = when.strftime("%Y-%m-%d ") + shown
    return f"{shown} ({until(record.next_at, now)})"


def last_run(record: ScheduleRecord) -> str:
    if record.last_job is None:
        return "-"
    return f"{record.last_job} {record.last_state or 'removed'}"


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"schedule": cmd_schedule}
