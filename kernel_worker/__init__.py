"""kernel_worker: claims jobs from a jobmagics queue and executes them."""
from __future__ import annotations

from .options import WorkerOptions
from .worker import Worker

__all__ = ["Worker", "WorkerOptions", "main"]


def main(argv: list[str] | None = None) -> int:
    from .cli import main as cli_main
    return cli_main(argv)
