"""``jobmagics backup DEST`` and ``jobmagics init --recover DIR [--from BACKUP]``."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .. import paths
from ..client import Queue
from ..errors import InvalidJob
from ..store.recovery import Recovery, recover


def add_arguments(sub: argparse._SubParsersAction[Any], init: argparse.ArgumentParser) -> None:
    init.add_argument("--recover", action="store_true",
                      help="rebuild a missing, empty or damaged jobs.db: the old file is kept in"
                           " rescued/, what SQLite can read is salvaged, no job id is ever reused")
    init.add_argument("--from", dest="backup_file", metavar="BACKUP",
                      help="with --recover: start from this `jobmagics backup` copy")
    p = sub.add_parser("backup",
                       help="a consistent copy of the queue database, safe while workers run")
    p.add_argument("dest", metavar="DEST",
                   help="a file, or a folder to put jobs-<date>-<time>.db in")


def cmd_backup(args: argparse.Namespace) -> int:
    queue = Queue(args.queue)
    made = queue.store.backup(Path(args.dest).expanduser().absolute())
    print(f"backed up {made.jobs} jobs to {made.path}"
          f" ({made.size / 1e6:.1f} MB in {made.seconds:.1f} s, integrity ok);"
          " logs/, data/ and outputs/ are plain files: copy them as they are")
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    """Reached from ``init DIR --recover`` (``--from`` alone is a mistake)."""
    if args.backup_file and not args.recover:
        raise InvalidJob("--from BACKUP goes with --recover")
    layout = paths.QueueLayout(paths.resolve_queue_dir(args.dir))
    if not layout.root.is_dir():
        raise InvalidJob(f"{layout.root} is not a queue folder")
    source = Path(args.backup_file).expanduser().absolute() if args.backup_file else None
    if source is not None and not source.is_file():
        raise InvalidJob(f"--from {args.backup_file}: no such file")
    print("\n".join(describe(recover(layout, source), source)))
    return 0


def describe(done: Recovery, source: Path | None) -> list[str]:
    if not done.needed and source is None:
        return [(f"{done.root}/jobs.db is sound: nothing to recover"
                 " (to start over from a backup, add --from BACKUP)")]
    started = f"; started from the backup {source}" if source else ""
    lines = [f"jobs.db was {done.needed or 'sound'}{started}"]
    if done.kept_in is not None:
        lines.append(f"the old files are kept in {done.kept_in}")
    for salvaged in done.sources:
        copied = ", ".join(f"{n} {table}" for table, n in salvaged.copied.items()) or "nothing"
        lines.append(f"salvaged from {salvaged.source}: {copied}")
        lines += [f"  could not read {gap}" for gap in salvaged.unreadable]
    lines.append(f"the queue now holds {done.jobs} jobs; the next id is {done.next_id}"
                 " (no id is reused)")
    if done.running:
        lines.append(f"{done.running} were running: the next worker to start requeues them"
                     " (or fails them if they have no retries left), after making sure their"
                     " processes are gone")
    return lines
