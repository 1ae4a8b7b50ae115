"""``jobmagics schedule add|list|runs|pause|resume|remove|run-now``: recurring jobs."""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from ..client import Queue
from ..errors import InvalidJob
from ..fields import flag_arguments, from_arguments
from ..model import JobSettings
from ..recurrence import OVERLAPS, ScheduleRecord
from ..schedules import next_run
from .bodies import add_body_arguments, body_from_arguments
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
    add = verbs.add_parser("add", help="submit a job again and again: NAME --every 1h or"
                                       " --cron '0 */2 * * *', then the job as for submit")
    _add_options(add)
    add.add_argument("words", nargs=argparse.REMAINDER, metavar="NAME [OPTIONS] -- CMD",
                     help="the schedule's name (unique in the queue), options, the command")
    late = type(add)(prog="jobmagics schedule add", argument_default=argparse.SUPPRESS)
    _add_options(late, late=True)
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


def _add_options(p: argparse.ArgumentParser, late: bool = False) -> None:
    """The rhythm's flags, every job setting's flag (as submit's, from model.JobSettings) and
    the body's (cli/bodies, as submit's). ``late``: for the options after NAME, where a flag
    not given must leave what was given before NAME alone."""
    p.add_argument("--every", metavar="DURATION", help="90s, 30m, 1h, 1d")
    p.add_argument("--cron", metavar="EXPR", help="five cron fields, e.g. '0 */2 * * *'")
    p.add_argument("--tz", metavar="ZONE", help="the cron's time zone (default: this"
                                                " machine's), e.g. Europe/Berlin")
    p.add_argument("--overlap", choices=OVERLAPS, default="skip",
                   help="skip (default): no run while the previous one is still going;"
                        " queue: submit it anyway")
    for flags, kwargs in flag_arguments(JobSettings):
        p.add_argument(*flags, **kwargs)
    add_body_arguments(p)
    if late:      # (set_defaults reaches the defaults the declared flags set explicitly)
        p.set_defaults(**{a.dest: argparse.SUPPRESS for a in p._actions if a.dest != "help"})


def _name_and_command(args: argparse.Namespace) -> tuple[str, list[str]]:
    """argparse hands everything from NAME on to ``words`` (a positional followed by a
    command that may hold any flag): the options before ``--`` are parsed here, the rest is
    the command."""
    words = list(args.words)
    if not words or words[0].startswith("-"):
        raise InvalidJob("name the schedule: jobmagics schedule add NAME --every 1h -- CMD")
    name, rest = words[0], words[1:]
    cut = rest.index("--") if "--" in rest else len(rest)
    _OPTIONS_AFTER_NAME[-1].parse_args(rest[:cut], namespace=args)
    return name, rest[cut + 1:]


def _submission(args: argparse.Namespace, command: list[str]) -> dict[str, Any]:
    """``Queue.submit``'s keywords: the body as submit reads it, then the settings given
    (``--name`` over a file's name)."""
    return body_from_arguments(args, command) | from_arguments(JobSettings, args)


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
    name, command = _name_and_command(args)
    schedule = q.schedule(name, every=args.every, cron=args.cron, tz=args.tz,
                          overlap=args.overlap, **_submission(args, command))
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


def last_run(record: ScheduleRecord) -> str:
    if record.last_job is None:
        return "-"
    return f"{record.last_job} {record.last_state or 'removed'}"


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"schedule": cmd_schedule}
