"""``%job config push|pull|list|history|main|diff``: the queue's named configs from the
notebook, with the command line's words (each verb is ``jobmagics config``'s own function).
``cfg = %job config pull NAME`` gives the config as a dict."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic_arguments import argument, magic_arguments

from ..cli.configs import VERBS
from ..configs import ConfigStore

if TYPE_CHECKING:
    from ..client import Queue

# the words each verb takes after it, by name (as `jobmagics config VERB` takes them)
WORDS: dict[str, tuple[str, ...]] = {
    "push": ("name", "file"), "pull": ("name",), "list": (), "history": ("name",),
    "main": ("name", "version"), "diff": ("name", "v1", "v2")}


@magic_arguments("job config")
@argument("verb", choices=list(WORDS), help="what to do")
@argument("words", nargs="*", metavar="ARG",
          help="push NAME FILE.yaml|json; pull NAME; list; history NAME; main NAME VERSION;"
               " diff NAME V1 V2")
@argument("--note", help="push: what changed, kept with the version")
@argument("--version", type=int, metavar="V", help="pull: this version (default: the main one)")
@argument("-o", "--output", metavar="FILE",
          help="pull: write it to FILE (YAML or JSON by its suffix) instead of returning it")
@argument("--json", action="store_true", help="list, history: as JSON")
@argument("--queue", metavar="DIR",
          help="the queue folder (default: $JOBMAGICS_QUEUE or ~/.jobmagics/queue)")
def config() -> None:
    """Named, versioned configs as YAML or JSON files: push a file as a new version, pull one
    (``cfg = %job config pull NAME`` returns it as a dict), list, history, main, diff."""


PARSERS: dict[str, Any] = {"config": config}


class ConfigVerbs:
    """``%job`` subcommands (``_cmd_<name>(args, cell)``), a part of ``JobMagics``."""

    if TYPE_CHECKING:
        def _queue(self, path: str | None) -> Queue: ...

    def _cmd_config(self, args: Any, cell: str | None) -> dict[str, Any] | None:
        names = WORDS[args.verb]
        if len(args.words) != len(names):
            wanted = " ".join(n.upper() for n in names) or "nothing more"
            raise UsageError(f"%job config {args.verb} takes {wanted}, not"
                             f" {' '.join(args.words) or 'nothing'}")
        words = dict(zip(names, args.words, strict=True))
        for key in ("version", "v1", "v2"):
            if key in words:
                words[key] = _version(words[key])
        queue = self._queue(args.queue)
        if args.verb == "pull" and args.output is None:      # the notebook's value
            return ConfigStore(queue).load(words["name"], args.version)
        namespace = argparse.Namespace(**({"queue": str(queue.path), "note": args.note,
                                           "version": args.version, "output": args.output,
                                           "json": args.json} | words))
        VERBS[args.verb](namespace)
        return None


def _version(text: str) -> int:
    try:
        value = int(text.removeprefix("v"))
    except ValueError:
        raise UsageError(f"{text!r} is not a version number") from None
    if value < 1:
        raise UsageError(f"versions are numbered from 1, not {value}")
    return value
