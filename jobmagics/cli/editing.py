"""``jobmagics move`` and ``jobmagics set``: reorder and edit jobs that have not started."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from ..client import Queue
from ..edits import (
    CONFIG_HELP,
    MOVE_HELP,
    SET_HELP,
    changes_from_arguments,
    edit_flag_arguments,
    set_lines,
)
from ..store.edits import place_text


def add_commands(sub: Any) -> None:
    """Add this module's subcommands to ``jobmagics``."""
    p = sub.add_parser("move", help=MOVE_HELP, description=MOVE_HELP)
    p.add_argument("id", metavar="ID")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--top", action="store_true", help="next to start among its priority")
    where.add_argument("--bottom", action="store_true", help="last among its priority")
    where.add_argument("--before", metavar="ID2", help="just before job ID2")
    where.add_argument("--after", metavar="ID2", help="just after job ID2")
    p = sub.add_parser("set", help=SET_HELP, description=SET_HELP)
    p.add_argument("ids", nargs="+", metavar="ID")
    for flags, kwargs in edit_flag_arguments():
        p.add_argument(*flags, **kwargs)
    p.add_argument("--config", action="append", metavar="KEY=VALUE", help=CONFIG_HELP)


def cmd_move(args: argparse.Namespace) -> int:
    job = Queue(args.queue).move(args.id, top=args.top, bottom=args.bottom, before=args.before,
                                 after=args.after)
    where = next(w for w in ("top", "bottom", "before", "after") if getattr(args, w))
    print(f"{job.id} moved {place_text(where, args.before or args.after)}"
          f" (priority {job.last_read.priority})")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    changes, config = changes_from_arguments(args)
    jobs = Queue(args.queue).update(args.ids, config=config or None, **changes)
    for line in set_lines(args.ids, jobs, changes, config):
        print(line)
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"move": cmd_move, "set": cmd_set}
