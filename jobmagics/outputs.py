"""The captured rich outputs of kernel jobs (``outputs/<id>.jsonl``, one nbformat output or
update event per line, appended live by the worker): reading them as they grow, and folding
them into the outputs as they finally look. Plain data, no HTML: the worker, the widgets and
``%job output`` all use it."""
from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .job import Job


def last_line(path: str | os.PathLike[str], limit: int = 4096) -> str | None:
    """The last non-blank line (stripped) among the last ``limit`` bytes of a log, or None;
    ``OSError`` when it cannot be read. Where a job or a worker that failed says why."""
    with open(path, "rb") as handle:
        handle.seek(max(0, handle.seek(0, os.SEEK_END) - limit))
        text = handle.read().decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else None


def read_output_events(path: Path, offset: int = 0,
                       limit: int | None = None) -> tuple[list[dict[str, Any]], int]:
    """New complete lines of an outputs file from ``offset``; returns them and the new offset.
    ``limit``: read about that many bytes at most (a longer line, an image, still comes whole)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            chunk = handle.read(-1 if limit is None else limit)
            if limit is not None and b"\n" not in chunk:
                chunk += handle.readline()
    except FileNotFoundError:
        return [], offset
    end = chunk.rfind(b"\n") + 1          # a line still being written waits for the next read
    events = []
    for line in chunk[:end].splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events, offset + end


def fold_outputs(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply clear_output and update_display_data events: the outputs as they finally look."""
    outputs: list[dict[str, Any]] = []
    clear_next = False
    for event in events:
        kind = event.get("output_type")
        if clear_next and kind != "clear_output":
            outputs, clear_next = [], False
        if kind == "clear_output":
            if event.get("wait"):
                clear_next = True
            else:
                outputs = []
            continue
        if kind == "update_display_data":
            _update_display(outputs, event)
            continue
        if kind == "stream" and outputs and outputs[-1].get("output_type") == "stream" \
                and outputs[-1].get("name") == event.get("name"):
            outputs[-1] = {**outputs[-1], "text": outputs[-1]["text"] + event.get("text", "")}
            continue
        outputs.append(dict(event))
    return outputs


def _update_display(outputs: list[dict[str, Any]], event: dict[str, Any]) -> None:
    display_id = (event.get("transient") or {}).get("display_id")
    for index, output in enumerate(outputs):
        if display_id and (output.get("transient") or {}).get("display_id") == display_id:
            outputs[index] = {**output, "data": event.get("data", {}),
                              "metadata": event.get("metadata", {})}


def job_outputs(job: Job) -> list[dict[str, Any]]:
    """The job's captured rich outputs (final if the job is done, so far if it runs)."""
    events, _ = read_output_events(job.queue.layout.outputs(job.id))
    return fold_outputs(events)
