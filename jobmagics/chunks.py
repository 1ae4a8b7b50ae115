"""Many small items as few jobs: ``Queue.map`` and ``Executor.map`` send items in chunks, each
chunk one element of an array whose function calls ``run_chunk``. A chunk's result keeps every
item's own outcome, so an item that raised costs only itself: the items before and after it
still come back, and the exception is raised where ``map`` reaches it (as
``concurrent.futures`` does)."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

MAX_CHUNK = 10_000
CHUNKS_PER_SLOT = 4      # several chunks per slot: a slow chunk does not hold up the end


def run_chunk(function: Callable[..., Any], chunk: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Run in the job: ``function(*args)`` for each item; ``(True, value)`` or
    ``(False, exception)`` for each, in order."""
    outcomes: list[Any] = []
    for args in chunk:
        try:
            outcomes.append((True, function(*args)))
        except Exception as exc:  # noqa: BLE001 - the item's own outcome, raised by map
            outcomes.append((False, exc))
    return outcomes


def auto_chunksize(items: int, slots: int) -> int:
    """Items per chunk: about ``CHUNKS_PER_SLOT`` chunks per slot, at most ``MAX_CHUNK``."""
    return max(1, min(MAX_CHUNK, math.ceil(items / (CHUNKS_PER_SLOT * max(1, slots)))))


def chunked(items: Sequence[tuple[Any, ...]], size: int) -> list[list[tuple[Any, ...]]]:
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


def unchunked(chunk_results: Iterable[list[Any]]) -> Iterator[Any]:
    """Each item's value in order; an item's exception is raised when it is reached."""
    for outcomes in chunk_results:
        for ok, value in outcomes:
            if not ok:
                raise value
            yield value
