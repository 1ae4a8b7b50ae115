"""``python -m kernel_worker``: the same worker as ``jobmagics worker``."""
from __future__ import annotations

import argparse
import logging
import sys

from jobmagics.errors import JobmagicsError

from .options import add_worker_arguments, options_from_args
from .worker import Worker


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        stream=sys.stderr)
    return Worker(options_from_args(args)).run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kernel_worker",
                                     description="Run a jobmagics worker.")
    parser.add_argument("--queue", default=None,
                        help="queue folder (default: $JOBMAGICS_QUEUE or ~/.jobmagics/queue)")
    add_worker_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return serve(args)
    except JobmagicsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
