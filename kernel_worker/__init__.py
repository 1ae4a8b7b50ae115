"""kernel_worker: claims jobs from a jobmagics queue and executes them."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .options import WorkerOptions
    from .spawning import WorkerHandle, spawn
    from .worker import Worker

__all__ = ["Worker", "WorkerHandle", "WorkerOptions", "main", "spawn"]


def __getattr__(name: str) -> Any:
    """Import the worker only when asked: the job runners (kernel_worker.runners.*) start in
    every python and function job's own process and need none of it (~50 ms per job)."""
    if name == "Worker":
        from .worker import Worker
        return Worker
    if name == "WorkerOptions":
        from .options import WorkerOptions
        return WorkerOptions
    if name in ("spawn", "WorkerHandle"):
        from . import spawning
        return getattr(spawning, name)
    raise AttributeError(f"module 'kernel_worker' has no attribute {name!r}")


def main(argv: list[str] | None = None) -> int:
    from .cli import main as cli_main
    return cli_main(argv)
