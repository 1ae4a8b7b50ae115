"""The ``jobmagics`` argument parser (one line on stderr and exit 2 for a user mistake)."""
from __future__ import annotations

import argparse
import sys
from typing import NoReturn, TypeAlias

from ..arrays import ARRAY_SPEC_HELP
from ..fields import flag_arguments
from ..model import STATE_NAMES, JobSettings

QUEUE_PAGE = 50
STATUS_ELEMENTS = 20           # the elements ``status ARRAY`` lists unless --limit says


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


Subparsers: TypeAlias = "argparse._SubParsersAction[OneLineParser]"


def _job_options(p: argparse.ArgumentParser) -> None:
    """The flags of every setting a user gives a job (declared once, in model.JobSettings)."""
    for flags, kwargs in flag_arguments(JobSettings):
        p.add_argument(*flags, **kwargs)


def _listing(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0")
    return value


QUEUE_HELP = "queue folder (default: $JOBMAGICS_QUEUE or ~/.jobmagics/queue)"


def _accept_queue_everywhere(sub: Subparsers) -> None:
    """``--queue DIR`` before or after the subcommand (``init`` names its folder itself).
    SUPPRESS: a subcommand that was not given it leaves the value of the top-level option alone
    instead of resetting it."""
    for name, parser in sub.choices.items():
        has_queue = any("--queue" in action.option_strings for action in parser._actions)
        if name != "init" and not has_queue:
            parser.add_argument("--queue", metavar="DIR", default=argparse.SUPPRESS,
                                help=QUEUE_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="jobmagics",
                           description="A job queue for labs, shared through a folder.")
    parser.add_argument("--queue", metavar="DIR", help=QUEUE_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=OneLineParser)
    for add in (_add_init, _add_submit, _add_listings, _add_moves, _add_workers):
        add(sub)
    from . import configs, editing, notify, retention, schedules  # day-to-day commands
    for module in (editing, schedules, notify, retention, configs):
        module.add_commands(sub)
    _accept_queue_everywhere(sub)
    return parser


def _add_init(sub: Subparsers) -> None:
    p = sub.add_parser("init", help="prepare a queue folder (shared by a Unix group with --group)")
    p.add_argument("dir")
    p.add_argument("--group", help="Unix group whose members share the queue")
    p.add_argument("--admin", action="append", default=[], metavar="USER",
                   help="queue admin; repeatable")
    p.add_argument("--journal", choices=["wal", "delete"], help="force the SQLite journal mode")
    from .maintenance import add_arguments as add_maintenance_arguments  # init --recover, backup
    add_maintenance_arguments(sub, p)
    from .system import add_init_arguments
    add_init_arguments(p)


def _add_submit(sub: Subparsers) -> None:
    p = sub.add_parser("submit",
                       help="queue a command (after --), python --code or --file, or an"
                            " --experiment with its --config; prints the id")
    _job_options(p)
    from .bodies import add_body_arguments  # what a job runs, shared with `schedule add`
    add_body_arguments(p)
    p.add_argument("--array", metavar="SPEC",
                   help="an array of jobs, one per index ({index} in the command, $JOBMAGICS_"
                        f"ARRAY_INDEX, the variable index in python code); {ARRAY_SPEC_HELP};"
                        " prints the array's id")
    p.add_argument("--wait", action="store_true",
                   help="wait for the job; exit status 0 only if it completed")
    p.add_argument("argv", nargs=argparse.REMAINDER, help="-- CMD ARGS...")


def _add_listings(sub: Subparsers) -> None:
    p = sub.add_parser("queue",
                       help="running, pending and waiting jobs of everyone, in start order")
    p.add_argument("--limit", type=_count, default=QUEUE_PAGE, metavar="N",
                   help=f"show the first N (default {QUEUE_PAGE}); "
                        "how many more there are is said")
    p.add_argument("--all", action="store_true", help="show every one")
    p.add_argument("--elements", action="store_true",
                   help="list the elements of arrays one by one (default: one line per array)")
    _listing(p)
    p = sub.add_parser("history", help="finished jobs, newest first")
    p.add_argument("--user")
    p.add_argument("--state",
                   choices=[s for s in STATE_NAMES if s not in ("waiting", "pending", "running")])
    p.add_argument("--limit", type=_count, default=20, metavar="N",
                   help="show the newest N (default 20)")
    _listing(p)
    p = sub.add_parser("status", help="one job in detail, with its history of states; an array:"
                                      " its state, counts and a page of its elements")
    p.add_argument("id")
    p.add_argument("--offset", type=_count, default=0, metavar="N",
                   help="an array's elements from the Nth on (default 0)")
    p.add_argument("--limit", type=_count, metavar="N",
                   help=f"how many of an array's elements to list (default {STATUS_ELEMENTS})")
    p.add_argument("--state", metavar="S[,S]", help="only an array's elements in these states")
    _listing(p)
    p = sub.add_parser("logs", help="the job's output")
    p.add_argument("id")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing until the job ends")


def _add_moves(sub: Subparsers) -> None:
    for verb, text in (("cancel", "cancel jobs (a running one is stopped)"),
                       ("retry", "run failed/cancelled/timed-out jobs again"),
                       ("hold", "keep jobs from starting"),
                       ("release", "let held jobs start"), ("delete", "remove finished jobs")):
        p = sub.add_parser(verb, help=f"{text}: all of them, or none if one cannot be")
        p.add_argument("ids", nargs="+", metavar="ID")
    for verb in ("pause", "resume"):
        p = sub.add_parser(verb, help=f"{verb} starting jobs (all, or of one resource)")
        p.add_argument("--resource")
    p = sub.add_parser("wait", help="wait for jobs; exit status 0 only if all completed")
    p.add_argument("ids", nargs="+", metavar="ID")
    p.add_argument("--timeout", type=float)


def _add_workers(sub: Subparsers) -> None:
    p = sub.add_parser("worker", help="run a worker on this queue (Ctrl-C to stop)")
    from kernel_worker.options import add_worker_arguments  # the CLI starts workers; nothing else
    add_worker_arguments(p)
    p = sub.add_parser("stats", help="counts per state, resources, workers")
    _listing(p)
    p = sub.add_parser("admin", help="list, add or remove queue admins; `admin operators"
                                     " [add|remove USER...]`: a system queue's instrument"
                                     " operators")
    p.add_argument("action", choices=["list", "add", "remove", "operators"])
    p.add_argument("words", nargs="*", metavar="USER",
                   help="the user (add, remove); for operators: [add|remove] USER...")
    from .system import add_commands as add_system_commands  # service, install-service, allow
    add_system_commands(sub)
