"""``jobmagics notify`` (a user's notification defaults, in the user's own config file) and
``jobmagics settings`` (the queue's declared settings: the SMTP server, retention)."""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from .. import notifications
from ..checks import NOTIFY_ON
from ..client import Queue
from ..queue_settings import SETTINGS, queue_setting
from .tables import table


def add_commands(sub: Any) -> None:
    """Add ``notify`` and ``settings`` to ``jobmagics``."""
    p = sub.add_parser("notify", help="your notification defaults: where to say that your jobs"
                                      " ended when a submission names no --notify")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    s = actions.add_parser("set", help="set them: jobmagics notify set email:me@lab.org"
                                       " [webhook:URL ...] [--on failure]")
    s.add_argument("targets", nargs="+", metavar="TARGET", help="email:ADDRESS or webhook:URL")
    s.add_argument("--on", choices=NOTIFY_ON, default="end",
                   help="on every end (default) or on failure only")
    s = actions.add_parser("show", help="show them (the default action)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    actions.add_parser("clear", help="remove them")

    p = sub.add_parser("settings", help="the queue's settings (SMTP server, retention); admins"
                                        " change them")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    s = actions.add_parser("get", help="print one setting's value")
    s.add_argument("key", metavar="KEY")
    s = actions.add_parser("set", help="set one (admins only)")
    s.add_argument("key", metavar="KEY")
    s.add_argument("value", metavar="VALUE")
    s = actions.add_parser("unset", help="put one back to its default (admins only)")
    s.add_argument("key", metavar="KEY")
    for action in actions.choices.values():        # --queue after the action too
        action.add_argument("--queue", metavar="DIR", default=argparse.SUPPRESS,
                            help="queue folder (default: $JOBMAGICS_QUEUE or ~/.jobmagics/queue)")


# ---- notify -------------------------------------------------------------------------------
def cmd_notify(args: argparse.Namespace) -> int:
    action = args.action or "show"
    path = notifications.defaults_path()
    if action == "set":
        defaults = notifications.check_defaults(args.targets, args.on)
        notifications.save_defaults(defaults, path)
        print(f"your jobs now notify {', '.join(defaults.notify)} {_when(defaults.on)} unless a"
              f" submission names --notify (saved in {path})")
        return 0
    if action == "clear":
        removed = notifications.clear_defaults(path)
        print(f"removed your notification defaults ({path})" if removed
              else "you had no notification defaults")
        return 0
    current = notifications.read_defaults(path)
    if getattr(args, "json", False):
        print(json.dumps(None if current is None else current.to_json() | {"file": str(path)},
                         indent=2))
    elif current is None:
        print("no notification defaults: jobs notify only where --notify says (jobmagics notify"
              " set email:ADDRESS [--on failure])")
    else:
        print(f"{', '.join(current.notify)} {_when(current.on)} (from {path})")
    return 0


def _when(on: str) -> str:
    return "when one fails or times out" if on == "failure" else "whenever one ends"


# ---- settings -----------------------------------------------------------------------------
def cmd_settings(args: argparse.Namespace) -> int:
    queue = Queue(args.queue)
    if args.action == "get":
        name = queue_setting(args.key).name
        print(_text(queue.settings()[name]))
    elif args.action == "set":
        queue.set_setting(args.key, args.value)
        print(f"{args.key} = {_text(queue.settings()[args.key])}")
    elif args.action == "unset":
        queue.unset_setting(args.key)
        print(f"{args.key} is back to its default: {_text(queue_setting(args.key).default)}")
    else:
        _list(queue, args.json)
    return 0


def _list(queue: Queue, as_json: bool) -> None:
    values = queue.settings()
    if as_json:
        print(json.dumps(values, indent=2))
        return
    print(table(["SETTING", "VALUE", "MEANING"],
                ([s.name, _text(values[s.name]), s.help] for s in SETTINGS)))
    print("\nonly a queue admin changes them: jobmagics settings set KEY VALUE")


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "notify": cmd_notify, "settings": cmd_settings}
