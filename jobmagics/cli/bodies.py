"""What a job runs, as command-line flags: a command after ``--``, ``--code``, ``--file``, or
``--experiment module:Class`` with ``--config JSON`` and/or ``--config-file FILE``.

Declared once for every command that submits (``submit``, ``schedule add``):
``add_body_arguments(parser)`` adds the flags, ``body_from_arguments(args)`` turns them into
the body keywords of ``Queue.submit``. Files are read whole before anything is queued."""
from __future__ import annotations

import argparse
import os
from typing import Any

from ..config_files import submitted_config
from ..errors import InvalidJob

ONE_BODY = ("give a command after --, or --code CODE, or --file FILE.py, or --experiment"
            " module:Class (exactly one)")


def add_body_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of a job's body (the command itself is the caller's ``argv`` remainder)."""
    p.add_argument("--code", help="python code to run")
    p.add_argument("--file", help="python file to run (its text is queued)")
    p.add_argument("--experiment", metavar="MODULE:CLASS",
                   help="an experiment class to run on the station"
                        " (e.g. jobmagics.experiments:Rabi)")
    p.add_argument("--config", metavar="JSON",
                   help="the experiment's config as a JSON object, e.g. '{\"amplitude\": 0.3}'"
                        " (over --config-file's)")
    p.add_argument("--config-file", metavar="FILE",
                   help="the experiment's config from a .yaml, .yml or .json file")


def body_from_arguments(args: argparse.Namespace,
                        argv: list[str] | None = None) -> dict[str, Any]:
    """``command``, ``code`` (and a default ``name`` for ``--file``) or ``experiment`` and
    ``config``: the body keywords of ``Queue.submit``. ``argv``: the command, if any."""
    argv = list(argv or [])
    given = [argv != [], args.code is not None, args.file is not None,
             args.experiment is not None]
    if sum(given) != 1:
        raise InvalidJob(ONE_BODY)
    configs = args.config is not None or args.config_file is not None
    if configs and args.experiment is None:
        raise InvalidJob("--config and --config-file are an experiment's: give --experiment"
                         " module:Class too")
    if args.experiment is not None:
        return {"experiment": args.experiment,
                "config": submitted_config(args.config, args.config_file)}
    if args.file is not None:
        return {"code": read_code(args.file), "name": os.path.basename(args.file)}
    if args.code is not None:
        return {"code": args.code}
    return {"command": argv}


def read_code(path: str) -> str:
    """A python file's text (``--file``), said as one line if it cannot be."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise InvalidJob(f"--file {path!r}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidJob(f"--file {path!r} is not UTF-8 text"
                         f" (byte 0x{data[exc.start]:02x} at offset {exc.start});"
                         " a python job's code must be a text file") from None
