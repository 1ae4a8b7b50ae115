"""``jobmagics prune`` (remove finished jobs and their files) and ``jobmagics du`` (where the
space goes)."""
from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

from ..client import Queue
from ..retention_model import AGE_HELP, FINISHED, SPACE_BY, PruneReport, SpaceReport

PRUNE_HELP = "remove finished jobs that ended long ago, with their logs, outputs and data"
DU_HELP = "where the queue's space goes: per user (or state), and the database"
_COLUMNS = ("jobs", "logs", "outputs", "data", "snapshots", "other", "total")


def add_commands(sub: Any) -> None:
    """Add this module's subcommands to ``jobmagics``."""
    p = sub.add_parser("prune", help=PRUNE_HELP, description=PRUNE_HELP)
    p.add_argument("--older-than", required=True, metavar="AGE",
                   help=f"jobs that ended more than AGE ago: {AGE_HELP}")
    finished = ",".join(s.value for s in FINISHED)
    p.add_argument("--state", metavar="S[,S]",
                   help=f"only these finished states (default: {finished})")
    p.add_argument("--user", metavar="U", help="only U's jobs (yours unless you are a queue"
                   " admin, who prunes everyone's by default)")
    data = p.add_mutually_exclusive_group()
    data.add_argument("--keep-data", dest="keep_data", action="store_true", default=True,
                      help="leave data/<id>.h5 in place (the default: measured data is kept"
                           " unless you ask)")
    data.add_argument("--remove-data", dest="keep_data", action="store_false",
                      help="remove the jobs' data files too")
    p.add_argument("--dry-run", action="store_true", help="change nothing; say what would go")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = sub.add_parser("du", help=DU_HELP, description=DU_HELP)
    p.add_argument("--by", choices=SPACE_BY, default="user", help="one row per user or state")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def cmd_prune(args: argparse.Namespace) -> int:
    report = Queue(args.queue).prune(args.older_than, states=args.state, user=args.user,
                                     keep_data=args.keep_data, dry_run=args.dry_run)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print("\n".join(prune_lines(report)))
    return 0


def cmd_du(args: argparse.Namespace) -> int:
    report = Queue(args.queue).du(by=args.by)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print("\n".join(du_lines(report)))
    return 0


def prune_lines(report: PruneReport) -> list[str]:
    """What a prune did (or would do), what it kept and why, one line each."""
    whose = "every user" if report.user is None else report.user
    states = "finished" if len(report.states) == len(FINISHED) else "/".join(report.states)
    ended = (f"{states} jobs of {whose} that ended before"
             f" {time.strftime('%Y-%m-%d %H:%M', time.localtime(report.cut))}")
    lines = []
    if not report.jobs and not report.files:
        lines.append(f"nothing to prune: no {ended}")
    else:
        verb = "would remove" if report.dry_run else "removed"
        arrays = f" ({_count(report.arrays, 'whole array')})" if report.arrays else ""
        orphans = (f", {_count(report.orphan_files, 'file')} of jobs already gone"
                   if report.orphan_files else "")
        lines.append(f"{verb} {_count(report.jobs, 'job')}{arrays}: {ended};"
                     f" {_count(report.files, 'file')}{orphans}, {size(report.bytes)} on disk")
    lines += _kept_lines(report)
    if report.dry_run:
        lines.append("dry run: nothing was changed")
    elif report.pages_freed is not None:
        lines.append(f"database {size(report.db_before)} -> {size(report.db_after)}"
                     f" ({_count(report.pages_freed, 'page')} freed); {report.vacuum}")
    return lines


def _kept_lines(report: PruneReport) -> list[str]:
    lines = []
    if report.kept_parents:
        lines.append(f"kept {_count(report.kept_parents, 'finished job')} (or array) that a job"
                     " still waiting, pending or running comes after")
    if report.kept_arrays:
        lines.append(f"kept {_count(report.kept_arrays, 'array')}: an array goes whole, and not"
                     " every element of these is finished, in those states, before the cut")
    if report.kept_unsent:
        lines.append(f"kept {_count(report.kept_unsent, 'job')} whose notifications are not"
                     " sent yet")
    if report.data_kept:
        lines.append(f"kept {_count(report.data_kept, 'data file')} in data/ (keep data)")
    return lines


def du_lines(report: SpaceReport) -> list[str]:
    header = [report.by, *_COLUMNS]
    rows = [[r.key, f"{r.jobs:,}", *(size(getattr(r, c)) for c in _COLUMNS[1:])]
            for r in report.rows]
    totals = ["total", f"{sum(r.jobs for r in report.rows):,}",
              *(size(sum(getattr(r, c) for r in report.rows)) for c in _COLUMNS[1:])]
    table = [header, *rows, totals]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(row, widths, strict=True)))
             for row in table]
    free = report.free_pages * report.page_size
    lines.append(f"database: jobs.db {size(report.db_bytes)}, WAL {size(report.wal_bytes)};"
                 f" {report.free_pages:,} free pages ({size(free)}) of {report.pages:,};"
                 f" auto_vacuum {report.auto_vacuum}")
    return lines


def size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {"prune": cmd_prune, "du": cmd_du}
