"""Recording what a job's kernel publishes: live to ``outputs/<id>.jsonl`` (one nbformat
output per line) and ``logs/<id>.log`` (the text), and at the end ``outputs/<id>.ipynb``."""
from __future__ import annotations

import json
import re
import time
from typing import Any

from jobmagics.model import JobRecord
from jobmagics.outputs import fold_outputs
from jobmagics.paths import QueueLayout

from ..identity import Identity

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_OUTPUT_TYPES = ("stream", "display_data", "update_display_data", "execute_result", "error",
                 "clear_output")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def output_from_message(msg_type: str, content: dict[str, Any]) -> dict[str, Any] | None:
    """An IOPub message as an nbformat output dict (plus update/clear events), or None."""
    if msg_type not in _OUTPUT_TYPES:
        return None
    if msg_type == "stream":
        return {"output_type": "stream", "name": content.get("name", "stdout"),
                "text": content.get("text", "")}
    if msg_type == "error":
        return {"output_type": "error", "ename": content.get("ename", ""),
                "evalue": content.get("evalue", ""),
                "traceback": list(content.get("traceback", []))}
    if msg_type == "clear_output":
        return {"output_type": "clear_output", "wait": bool(content.get("wait"))}
    output: dict[str, Any] = {"output_type": msg_type, "data": content.get("data", {}),
                              "metadata": content.get("metadata", {})}
    if msg_type == "execute_result":
        output["execution_count"] = content.get("execution_count")
    display_id = (content.get("transient") or {}).get("display_id")
    if display_id:
        output["transient"] = {"display_id": display_id}   # lets readers apply later updates
    return output


class OutputRecorder:
    """Appends each output as it arrives, so widgets and ``%job output`` see it live."""

    def __init__(self, layout: QueueLayout, job: JobRecord, source: str | None = None,
                 owner: Identity | None = None) -> None:
        self.layout = layout
        self.job = job
        self.owner = owner                  # the files belong to the job's owner (system queue)
        self.source = source if source is not None else job.code or ""   # the notebook cell's code
        self.events: list[dict[str, Any]] = []
        self.execution_count: int | None = None
        # open for the whole run (closed by close()); the jsonl holds one attempt's outputs
        self._jsonl = open(layout.outputs(job.id), "w", encoding="utf-8")  # noqa: SIM115
        self._log = open(layout.log(job.id), "ab")  # noqa: SIM115
        if owner is not None:
            owner.own_descriptor(self._jsonl.fileno())
            owner.own_descriptor(self._log.fileno())

    def record(self, msg_type: str, content: dict[str, Any]) -> None:
        if msg_type == "execute_input":
            self.execution_count = content.get("execution_count")
            return
        output = output_from_message(msg_type, content)
        if output is None:
            return
        self.events.append(output)
        self._jsonl.write(json.dumps(output, default=str) + "\n")
        self._jsonl.flush()
        self.log_text(_log_text(output))

    def log_text(self, text: str) -> None:
        if text:
            self._log.write(text.encode("utf-8", errors="replace"))
            self._log.flush()

    def note(self, line: str) -> None:
        """A line of our own in the job's log (startup, failures): ends with a newline."""
        self.log_text(line.rstrip("\n") + "\n")

    def save_notebook(self, state: str, error: str | None) -> None:
        """The code and its outputs as a one-cell notebook (nbformat 4.5) that opens in
        JupyterLab. Plain JSON: importing nbformat would cost the worker over a second."""
        cell: dict[str, Any] = {
            "cell_type": "code", "id": "job", "metadata": {},
            "execution_count": self.execution_count, "source": self.source,
            "outputs": [_for_notebook(o) for o in fold_outputs(self.events)]}
        notebook = {"nbformat": 4, "nbformat_minor": 5, "cells": [cell], "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
            "jobmagics": {"job_id": self.job.id, "name": self.job.name, "user": self.job.user,
                          "state": state, "error": error, "saved_at": time.time()}}}
        path = self.layout.notebook(self.job.id)
        temporary = path.with_suffix(".ipynb.tmp")
        temporary.write_text(json.dumps(notebook, indent=1, default=str) + "\n", encoding="utf-8")
        if self.owner is not None:
            self.owner.own(temporary)
        temporary.replace(path)

    def close(self) -> None:
        self._jsonl.close()
        self._log.close()


def _log_text(output: dict[str, Any]) -> str:
    kind = output["output_type"]
    if kind == "stream":
        return str(output["text"])
    if kind == "error":
        return strip_ansi("\n".join(output["traceback"])) + "\n"
    if kind == "execute_result":
        return str(output["data"].get("text/plain", "")) + "\n"
    return ""


def _for_notebook(output: dict[str, Any]) -> dict[str, Any]:
    """An nbformat output: only the keys its schema allows (no ``transient``)."""
    output = {k: v for k, v in output.items() if k != "transient"}
    if output["output_type"] in ("display_data", "execute_result"):
        output.setdefault("metadata", {})
    return output
