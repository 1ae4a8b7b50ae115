"""The routes behind JupyterLab's job view: what a job measured, printed and ran with.

- ``GET jobs/<id>/data?offset=N``: an experiment's ``data/<id>.h5`` from point ``N`` (the
  points the browser already has): the new points of each column, the plot's axes and units,
  whether the run is complete, its summary and the sampled fit curve
  (``jobmagics.job_data.read_data``). No file yet: ``exists`` false, nothing else.
- ``GET jobs/<id>/outputs?offset=B``: a python job's captured rich outputs (nbformat output
  dicts, as ``outputs.read_output_events`` reads them) from byte ``B`` of
  ``outputs/<id>.jsonl``, and ``next``, where to ask from; an ended job whose only record is
  ``outputs/<id>.ipynb`` answers from that. ``source`` says which file a live view follows
  (``kinds.live_source``): ``log`` for a job without captured outputs (read its log route).
- ``GET jobs/<id>/submission``: the ``q.submit(...)`` that would queue the job again
  (``jobmagics.submission_text``); the environment only for its owner and the admins.

Each reads the job first (``q.get``): an unknown job is 404 and the same rules as ``GET
jobs/<id>`` apply; a bad offset is 400."""
from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..job_data import MAX_POINTS, read_data
from ..kinds import live_source
from ..outputs import read_output_events
from ..submission_text import submission_text
from .handlers import JobmagicsHandler
from .views import LOG_CHUNK

if TYPE_CHECKING:
    import jobmagics

_JOB = r"jobs/(?P<job_id>[^/]+)"
NOTEBOOK_MAX = 64 << 20          # an ended job's notebook is read whole up to this size


def job_data(q: jobmagics.Queue, job_id: str, offset: int) -> dict[str, Any]:
    """The data route's answer (at most MAX_POINTS points from ``offset``)."""
    job = q.get(job_id)
    ended = job.done              # read first: a run still 'running' after its job ended died
    return {"job": job.id} | read_data(job.data_path, offset, ended=ended, limit=MAX_POINTS)


def job_outputs(q: jobmagics.Queue, job_id: str, offset: int) -> dict[str, Any]:
    """The outputs route's answer: about LOG_CHUNK bytes of events from ``offset`` at most."""
    job = q.get(job_id)
    done = job.done               # read the state first: an ended job's files are complete
    jsonl, notebook = q.layout.outputs(job.id), q.layout.notebook(job.id)
    has_jsonl, has_notebook = jsonl.exists(), done and notebook.exists()
    source = live_source(job.last_read.kind, has_jsonl or has_notebook, done)
    answer = {"job": job.id, "offset": offset, "next": offset, "outputs": [], "source": source,
              "done": done}
    if has_jsonl:
        events, after = read_output_events(jsonl, offset, LOG_CHUNK)
        answer.update(outputs=events, next=after, done=done and after >= _size(jsonl))
    elif has_notebook:
        size = _size(notebook)
        outputs = _notebook_outputs(notebook) if offset < size else []
        answer.update(outputs=outputs, next=max(offset, size))
    return answer


def _size(path: os.PathLike[str]) -> int:
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _notebook_outputs(path: os.PathLike[str]) -> list[dict[str, Any]]:
    """The outputs of the cells of a job's saved notebook (the worker writes one cell)."""
    if _size(path) > NOTEBOOK_MAX:
        return [{"output_type": "stream", "name": "stderr",
                 "text": f"(the outputs are in {os.fspath(path)}: too big to show here)\n"}]
    try:
        with open(path, encoding="utf-8") as handle:
            notebook = json.load(handle)
    except (OSError, ValueError):
        return []
    return [output for cell in notebook.get("cells") or [] for output in cell.get("outputs") or []
            if isinstance(output, dict)]


def job_submission(q: jobmagics.Queue, job_id: str) -> dict[str, Any]:
    """The submission route's answer."""
    record = q.get(job_id).last_read
    secrets = record.user == q.user or q.is_admin()     # env: its owner's and the admins'
    return {"job": record.id, "python": submission_text(record, secrets=secrets)}


class DataHandler(JobmagicsHandler):
    """GET an experiment's data columns from a point offset (see the module's text)."""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        offset = self.int_arg("offset", 0, 0)
        await self.answer(lambda q: job_data(q, job_id, offset))


class OutputsHandler(JobmagicsHandler):
    """GET a job's captured rich outputs from a byte offset (see the module's text)."""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        offset = self.int_arg("offset", 0, 0)
        await self.answer(lambda q: job_outputs(q, job_id, offset))


class SubmissionHandler(JobmagicsHandler):
    """GET the ``q.submit(...)`` text that would queue the job again."""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        await self.answer(lambda q: job_submission(q, job_id))


ROUTES: list[tuple[str, Any]] = [      # (path under /jobmagics/api/, handler class)
    (rf"{_JOB}/data", DataHandler),
    (rf"{_JOB}/outputs", OutputsHandler),
    (rf"{_JOB}/submission", SubmissionHandler),
]
