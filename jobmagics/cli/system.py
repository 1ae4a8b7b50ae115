"""A system queue from the command line: ``init --system``, ``service``, ``install-service``,
``admin operators`` and ``allow``."""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

from .. import paths
from ..client import Queue
from ..errors import InvalidJob, QueueError

UNIT_DIR = Path("/etc/systemd/system")
SYSTEMD_RUNNING = Path("/run/systemd/system")   # present only when systemd is PID 1


def add_init_arguments(init: argparse.ArgumentParser) -> None:
    init.add_argument("--system", action="store_true",
                      help="a queue only its service writes (root only, with --group): every"
                           " job runs as its owner")
    init.add_argument("--private-files", action="store_true",
                      help="with --system: a job's log, data and outputs are readable by its"
                           " owner alone (default: by the queue's group too)")


def add_commands(sub: argparse._SubParsersAction[Any]) -> None:
    from kernel_worker.options import add_worker_arguments  # the service runs a worker

    p = sub.add_parser("service", help="run a system queue's service and its worker (root;"
                                       " install-service makes systemd run it)")
    add_worker_arguments(p, whose=False)
    p = sub.add_parser("install-service",
                       help="write (and enable) the systemd unit of a system queue's service")
    add_worker_arguments(p, whose=False)
    p.add_argument("--unit-dir", type=Path, default=UNIT_DIR, metavar="DIR",
                   help=f"where to write the unit (default {UNIT_DIR})")
    p.add_argument("--print", action="store_true", dest="print_only",
                   help="print the unit instead of installing it")
    p = sub.add_parser("allow", help="list, add or remove the experiment classes everyone may"
                                     " run on a system queue's instruments (admins)")
    p.add_argument("words", nargs="*", metavar="[add|remove] module:Class",
                   help="nothing to list them")


def require_root(command: str) -> None:
    """The service runs as root: it starts each job as its owner."""
    if os.geteuid() != 0:
        raise QueueError(f"`jobmagics {command.split()[0]}` is run by root: sudo jobmagics"
                         f" {command}")


def init_system(args: argparse.Namespace) -> int:
    """``init DIR --system --group G [--admin U]...`` (the database is made here, as root)."""
    root = paths.resolve_queue_dir(args.dir)
    if not args.group:
        raise InvalidJob("--system needs --group GROUP: the Unix group of the queue's users")
    layout = paths.init_system(root, args.group, share_files=not args.private_files)  # root only
    if args.journal:
        layout.settings.write_text(json.dumps(layout.read_settings() | {"journal": args.journal}))
    queue = Queue(root)
    if args.admin:
        queue.add_admin(*args.admin)        # every account checked before any is added
    paths.fix_private_file_modes(layout)
    admins = ", ".join(queue.admins()) or "none yet (sudo jobmagics admin add USER)"
    print(f"system queue ready at {root}: only its service writes it; members of group"
          f" {args.group} submit through it\nadmins: {admins}\n"
          f"next: sudo jobmagics install-service --queue {root} [--resource NAME ...]"
          f"\n  (without systemd: sudo jobmagics service --queue {root})")
    return 0


def system_layout(args: argparse.Namespace) -> paths.QueueLayout:
    layout = paths.QueueLayout(paths.resolve_queue_dir(getattr(args, "queue", None)))
    if not layout.is_system():
        raise QueueError(f"{layout.root} is not a system queue (sudo jobmagics init {layout.root}"
                         " --system --group GROUP makes one); a group queue's jobs are run by"
                         " `jobmagics worker`")
    return layout


def cmd_service(args: argparse.Namespace) -> int:
    layout = system_layout(args)
    require_root(f"service --queue {layout.root}")
    from kernel_worker.cli import serve_system  # the CLI starts workers; nothing else
    return serve_system(layout, args)


def cmd_install_service(args: argparse.Namespace) -> int:
    from ..service import unit
    layout = system_layout(args)
    if args.startup is not None:              # systemd starts it from /
        args.startup = os.path.abspath(args.startup)
    text = unit.unit_text(sys.executable, layout.root, worker_flags(args), args.shutdown_grace)
    name = unit.unit_name(layout.root)
    if args.print_only:
        print(text, end="")
        return 0
    require_root(f"install-service --queue {layout.root}")
    args.unit_dir.mkdir(parents=True, exist_ok=True)
    path = args.unit_dir / name
    path.write_text(text)
    os.chmod(path, 0o644)
    print(f"wrote {path}")
    if SYSTEMD_RUNNING.is_dir() and args.unit_dir == UNIT_DIR:
        for command in (["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", name]):
            _run(command)
        print(f"started {name} (systemctl status {shlex.quote(name)})")
        return 0
    print(_by_hand(text, name, layout.root), end="")
    return 0


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise QueueError(f"{shlex.join(command)} failed: {done.stderr.strip() or done.returncode}")


def _by_hand(text: str, name: str, root: Path) -> str:
    if SYSTEMD_RUNNING.is_dir():
        how = f"systemctl daemon-reload && systemctl enable --now {shlex.quote(name)}"
        return f"to start it: {how}\n"
    return (f"systemd is not running here: start the service by hand, as root:\n"
            f"  {_exec_line(text)} &\n(or: sudo jobmagics service --queue {root})\n")


def _exec_line(text: str) -> str:
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    words = shlex.split(line.removeprefix("ExecStart=").replace("%%", "%").replace("$$", "$"))
    return shlex.join(words)


def worker_flags(args: argparse.Namespace) -> list[str]:
    """The worker flags given on this command line, to be given to the service again."""
    from kernel_worker.options import add_worker_arguments

    probe = argparse.ArgumentParser(add_help=False)
    add_worker_arguments(probe, whose=False)
    flags: list[str] = []
    for action in probe._actions:
        value = getattr(args, action.dest, action.default)
        if value == action.default or not action.option_strings:
            continue
        flag = action.option_strings[-1]
        if action.nargs == 0:                              # a switch (store_true)
            flags.append(flag)
        else:
            for item in value if isinstance(value, list) else [value]:
                flags += [flag, str(item)]
    return flags


def admins(queue: Queue, words: list[str]) -> int:
    """``admin [list|add|remove USER...]``."""
    if words[:1] == ["list"]:
        words = words[1:]
    return _listed(words, "USER", queue.admins, queue.add_admin, queue.remove_admin,
                   "an admin of", queue.path)


def operators(queue: Queue, words: list[str]) -> int:
    """``admin operators [add|remove USER...]``."""
    return _listed(words, "USER", queue.operators, queue.add_operator, queue.remove_operator,
                   "an instrument operator of", queue.path)


def cmd_allow(args: argparse.Namespace) -> int:
    queue = Queue(args.queue)
    return _listed(args.words, "module:Class", queue.allowed_experiments,
                   queue.allow_experiment, queue.disallow_experiment,
                   "allowed on the instruments of", queue.path)


def _listed(words: list[str], what: str, listing: Any, add: Any, remove: Any, role: str,
            where: Path) -> int:
    if not words:
        print("\n".join(listing()) or "none")
        return 0
    verb, names = words[0], words[1:]
    if verb not in ("add", "remove"):
        raise InvalidJob(f"{verb!r}: say add or remove, then one or more {what}")
    if not names:
        raise InvalidJob(f"{verb} needs one or more {what}")
    (add if verb == "add" else remove)(*names)       # every name checked before any is listed
    for name in names:
        print(f"{name} {'is now' if verb == 'add' else 'is no longer'} {role} {where}")
    return 0
