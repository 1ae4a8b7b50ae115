"""``jobmagics config push|pull|list|history|main|diff``: a queue's named configs as files.

YAML or JSON alike, by the file's suffix (``config_files``); the versions themselves live in
the queue (``configs.ConfigStore``). Every problem is one line and exit 2, nothing written."""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from ..config_files import config_text, diff_configs, file_format, read_config_file
from ..configs import ConfigStore
from ..errors import InvalidJob
from .tables import table, timestamp


def _version(text: str) -> int:
    try:
        value = int(text.removeprefix("v"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"versions are numbered from 1, not {value}")
    return value


def add_commands(sub: Any) -> None:
    """``config`` and its verbs."""
    p = sub.add_parser("config", help="named, versioned configs as YAML or JSON files:"
                                      " push, pull, list, history, main, diff")
    verbs = p.add_subparsers(dest="config_verb", required=True, metavar="VERB",
                             parser_class=type(p))
    v = verbs.add_parser("push", help="save FILE (.yaml, .yml or .json) as NAME's new main"
                                      " version (an identical one is reused)")
    v.add_argument("name")
    v.add_argument("file")
    v.add_argument("--note", help="what changed, kept with the version")
    v = verbs.add_parser("pull", help="a version of NAME (default: its main one) as YAML on"
                                      " stdout, or into -o FILE (YAML or JSON by its suffix)")
    v.add_argument("name")
    v.add_argument("--version", type=_version, metavar="V")
    v.add_argument("-o", "--output", metavar="FILE")
    v = verbs.add_parser("list", help="every config: its main version, versions, last change")
    v.add_argument("--json", action="store_true", help="machine-readable output")
    v = verbs.add_parser("history", help="NAME's versions, notes, who and when; main marked")
    v.add_argument("name")
    v.add_argument("--json", action="store_true", help="machine-readable output")
    v = verbs.add_parser("main", help="make VERSION the main one of NAME (what pull and new"
                                      " jobs get)")
    v.add_argument("name")
    v.add_argument("version", type=_version)
    v = verbs.add_parser("diff", help="what changed from V1 to V2, key by key")
    v.add_argument("name")
    v.add_argument("v1", type=_version)
    v.add_argument("v2", type=_version)
    for parser in verbs.choices.values():
        parser.add_argument("--queue", metavar="DIR", default=argparse.SUPPRESS,
                            help="queue folder (default: $JOBMAGICS_QUEUE or ~/.jobmagics/queue)")


def _configs(args: argparse.Namespace) -> ConfigStore:
    return ConfigStore(getattr(args, "queue", None))


def push(args: argparse.Namespace) -> int:
    store = _configs(args)
    known = {v.version for v in store.history(args.name)}      # (a bad name: refused here)
    data = read_config_file(args.file)          # the whole file, checked, before any write
    version = store.save(args.name, data, note=args.note)
    said = "identical to" if version in known else "saved as"
    print(f"{args.name}: {said} version {version} (main)")
    return 0


def pull(args: argparse.Namespace) -> int:
    fmt = file_format(args.output) if args.output else "yaml"   # a bad suffix: said first
    data = _configs(args).load(args.name, args.version)
    text = config_text(data, fmt)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise InvalidJob(f"{args.output}: cannot write it: {exc.strerror}") from None
    return 0


def list_configs(args: argparse.Namespace) -> int:
    store = _configs(args)
    summaries = [store.summary(name) for name in store.names()]
    if args.json:
        print(json.dumps(summaries, indent=2))
        return 0
    if not summaries:
        print("no configs in this queue (jobmagics config push NAME FILE.yaml saves one)")
        return 0
    print(table(["NAME", "MAIN", "VERSIONS", "CHANGED", "BY"],
                [[s["name"], s["main"] or "-", s["versions"], timestamp(s["changed_at"]),
                  s["changed_by"]] for s in summaries]))
    return 0


def history(args: argparse.Namespace) -> int:
    versions = _configs(args).history(args.name)
    if not versions:
        _configs(args).info(args.name)             # says there is no such config
    if args.json:
        print(json.dumps([{"version": v.version, "main": v.main, "saved_by": v.saved_by,
                           "saved_at": v.saved_at, "note": v.note, "sha256": v.sha256}
                          for v in versions], indent=2))
        return 0
    print(table(["VERSION", "MAIN", "SAVED", "BY", "NOTE"],
                [[str(v.version), "*" if v.main else "", timestamp(v.saved_at), v.saved_by,
                  v.note or ""] for v in versions]))
    return 0


def set_main(args: argparse.Namespace) -> int:
    store = _configs(args)
    store.info(args.name)                 # no such config: said as such, before the version
    store.set_main(args.name, args.version)
    print(f"{args.name}: main version is now {args.version}")
    return 0


def diff(args: argparse.Namespace) -> int:
    store = _configs(args)
    old, new = store.load(args.name, args.v1), store.load(args.name, args.v2)
    lines = diff_configs(old, new)
    print("\n".join(lines) if lines else f"{args.name}: versions {args.v1} and {args.v2}"
          " hold the same config")
    return 0


VERBS: dict[str, Callable[[argparse.Namespace], int]] = {
    "push": push, "pull": pull, "list": list_configs, "history": history, "main": set_main,
    "diff": diff}


def cmd_config(args: argparse.Namespace) -> int:
    return VERBS[args.config_verb](args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"config": cmd_config}
