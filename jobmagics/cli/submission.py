"""A job's body and settings as a command line gives them (``--code``, ``--file``, ``-- CMD``,
and every flag of ``model.JobSettings``), for the commands that describe a job to run later
(``schedule add``). It mirrors what ``submit`` does in ``parser``/``commands``, which import
the day-to-day command modules and so cannot be imported by them (an import cycle)."""
from __future__ import annotations

import argparse
import os
from typing import Any

from ..errors import InvalidJob
from ..fields import flag_arguments, from_arguments
from ..model import JobSettings


def add_job_options(p: argparse.ArgumentParser) -> None:
    """Every setting's flag (declared once, in model.JobSettings)."""
    for flags, kwargs in flag_arguments(JobSettings):
        p.add_argument(*flags, **kwargs)


def add_body_options(p: argparse.ArgumentParser) -> None:
    """``--code`` and ``--file`` (a command comes after ``--``)."""
    p.add_argument("--code", help="python code to run")
    p.add_argument("--file", help="python file to run (its text is stored now)")


def job_submission(args: argparse.Namespace) -> dict[str, Any]:
    """``Queue.submit``'s keywords: exactly one body, and the settings given."""
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    bodies = sum(x is not None and x != [] for x in (argv, args.code, args.file))
    if bodies != 1:
        raise InvalidJob("give a command after --, or --code CODE, or --file FILE.py (exactly one)")
    options: dict[str, Any] = from_arguments(JobSettings, args)
    if args.file is not None:
        options["code"] = read_code(args.file)
        options["name"] = options.get("name") or os.path.basename(args.file)
    elif args.code is not None:
        options["code"] = args.code
    else:
        options["command"] = argv
    return options


def read_code(path: str) -> str:
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
