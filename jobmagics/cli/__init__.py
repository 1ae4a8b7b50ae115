"""``jobmagics``: the command line. Thin: parse, call the client, print."""
from __future__ import annotations

import sys

from ..errors import JobmagicsError
from .commands import COMMANDS
from .parser import build_parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except JobmagicsError as exc:
        print(f"jobmagics: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
