"""``%job move`` and ``%job set``: reorder and edit jobs that have not started (the same rules
and words as ``jobmagics move``/``set``; see ``jobmagics.edits``)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.magic_arguments import argument, magic_arguments

from ..edits import (
    CONFIG_HELP,
    changes_from_arguments,
    edit_flag_arguments,
    set_lines,
)
from ..store.edits import place_text

if TYPE_CHECKING:
    from ..client import Queue

_queue = argument("--queue", metavar="DIR",
                  help="the queue folder (default: $JOBMAGICS_QUEUE or ~/.jobmagics/queue)")


def _editable(func: Callable[..., Any]) -> Callable[..., Any]:
    """The flags of the editable settings (declared once, in model.JobSettings)."""
    for flags, kwargs in reversed(edit_flag_arguments()):
        func = argument(*flags, **kwargs)(func)
    return func


@magic_arguments("job move")
@argument("id", metavar="ID", help="the job to move")
@argument("--top", action="store_true", help="next to start among its priority")
@argument("--bottom", action="store_true", help="last among its priority")
@argument("--before", metavar="ID2", help="just before job ID2")
@argument("--after", metavar="ID2", help="just after job ID2")
@_queue
def move_line() -> None:
    """Put a waiting or pending job elsewhere in line among the jobs of its priority: --top
    (next to start among them), --bottom (behind them all; later submissions still after it),
    --before or --after ID2 (a job of the same priority waiting for the same resources)."""


@magic_arguments("job set")
@argument("ids", nargs="*", metavar="ID",
          help="job ids, or a,b (default: the last job submitted here); all of them or none")
@_editable
@argument("--config", action="append", metavar="KEY=VALUE", help=CONFIG_HELP)
@_queue
def set_settings() -> None:
    """Change settings of waiting or pending jobs (yours, or any as a queue admin; an array's
    id: its waiting and pending elements): all of them, or none if one cannot be changed; each
    change is in the job's history."""


PARSERS: dict[str, Any] = {"move": move_line, "set": set_settings}


class EditingVerbs:
    """``%job`` subcommands (``_cmd_<name>(args, cell)``), a part of ``JobMagics``."""

    if TYPE_CHECKING:
        def _queue(self, path: str | None) -> Queue: ...

        def _ids(self, args: Any) -> list[str]: ...

    def _cmd_move(self, args: Any, cell: str | None) -> None:
        job = self._queue(args.queue).move(args.id, top=args.top, bottom=args.bottom,
                                           before=args.before, after=args.after)
        where = next(w for w in ("top", "bottom", "before", "after") if getattr(args, w))
        print(f"{job.id}: moved {place_text(where, args.before or args.after)}"
              f" (priority {job.last_read.priority})")

    def _cmd_set(self, args: Any, cell: str | None) -> None:
        changes, config = changes_from_arguments(args)
        ids = self._ids(args)
        jobs = self._queue(args.queue).update(ids, config=config or None, **changes)
        for line in set_lines(ids, jobs, changes, config):
            print(line)
