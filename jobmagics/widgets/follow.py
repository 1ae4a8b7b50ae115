"""Following a job's output files as they grow: ``outputs/<id>.jsonl`` for kernel jobs,
``logs/<id>.log`` for the others. Returns nbformat outputs for an ``ipywidgets.Output``."""
from __future__ import annotations

import codecs
import os
from typing import TYPE_CHECKING, Any

from ..kinds import live_source
from ..outputs import fold_outputs, read_output_events

if TYPE_CHECKING:
    from ..job import Job

MAX_TEXT = 64 * 1024      # the widget keeps the tail of long streams
MAX_OUTPUTS = 200


class OutputFollower:
    def __init__(self, job: Job) -> None:
        self.job = job
        self.reset()

    def reset(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._offset = 0
        self._size = -1
        self._source: str | None = None
        # a character split between two reads of the log comes out whole, not as two U+FFFD
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def _pick_source(self, terminal: bool, kind: str) -> str | None:
        """The kind says where its live output comes from (jobmagics.kinds)."""
        exists = os.path.exists(self.job.queue.layout.outputs(self.job.id))
        source = live_source(kind, exists, terminal)
        return {"outputs": "jsonl", "log": "log", None: None}[source]

    def read(self, terminal: bool = False, kind: str = "python") -> list[dict[str, Any]] | None:
        """The outputs so far if anything new arrived, else None. Cheap when nothing changed."""
        if self._source is None:
            self._source = self._pick_source(terminal, kind)
            if self._source is None:
                return None
        layout = self.job.queue.layout
        path = layout.outputs(self.job.id) if self._source == "jsonl" else layout.log(self.job.id)
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            return None
        if size == self._size and not (terminal and self._decoder.getstate()[0]):
            return None                   # (a finished job's dangling partial character is flushed)
        if size < self._offset:           # a new attempt started the file again
            self.events, self._offset = [], 0
            self._decoder.reset()
        self._size = size
        if self._source == "jsonl":
            events, self._offset = read_output_events(path, self._offset)
        else:
            events = self._read_log(path, terminal)
        if not events:
            return None
        self.events.extend(events)
        return self.outputs()

    def _read_log(self, path: os.PathLike[str] | str, final: bool) -> list[dict[str, Any]]:
        with open(path, "rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        self._offset += len(chunk)
        text = self._decoder.decode(chunk, final)
        return [{"output_type": "stream", "name": "stdout", "text": text}] if text else []

    def outputs(self) -> list[dict[str, Any]]:
        outputs = fold_outputs(self.events)[-MAX_OUTPUTS:]
        self.events = list(outputs)            # folding is idempotent: keep the short form
        return [_trimmed(o) for o in outputs]


def _trimmed(output: dict[str, Any]) -> dict[str, Any]:
    output = {k: v for k, v in output.items() if k != "transient"}
    if output.get("output_type") == "stream" and len(output.get("text", "")) > MAX_TEXT:
        output["text"] = "…" + output["text"][-MAX_TEXT:]
    return output
