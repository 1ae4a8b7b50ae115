"""Thin, authenticated handlers over the ``jobmagics.Queue`` API.

Every route needs an authenticated Jupyter user; state changes (POST) also need the XSRF
check that jupyter_server applies to cookie-authenticated requests. Every handler is
``async`` and does its queue work through :meth:`JobmagicsHandler.answer`, which runs it in
a worker thread (:mod:`jobmagics.server.calls`): the server's event loop never waits on
SQLite or on the queue's files. Errors are turned into HTTP statuses in one place,
:meth:`JobmagicsHandler.write_error`:

=====================================  ======
``JobNotFound``                        404
``PermissionDenied``                   403
``InvalidTransition``                  409
``InvalidJob``, ``BadRequest`` (400)   400
``QueueBusy`` (write lock held)        503 (with Retry-After)
``QueueError`` (queue unreadable)      503
=====================================  ======

with a JSON body ``{"error": message, "type": ExceptionClassName}``.

Listings (``GET jobs``, newest first; ``GET queue``, in start order) carry brief jobs
(:func:`jobmagics.server.views.listed`), one page (``limit``, ``offset``) and the ``total`` of
matching jobs; a job's code, config, options and environment come from the one-job route only.
An array is one row (``GET arrays``, and ``arrays`` beside the jobs of ``GET queue``; ``GET
jobs?elements=0`` leaves its elements out); ``GET arrays/<id>`` pages its elements; the action
routes take an array's id as a job's.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from http.client import responses
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..errors import (
    InvalidJob,
    InvalidTransition,
    JobmagicsError,
    JobNotFound,
    PermissionDenied,
    QueueBusy,
    QueueError,
)
from ..model import State
from .bodies import BadRequest, bulk_action, json_object, submit_keywords
from .views import detailed, listed, may_act_on, queue_page, read_log, row_of

if TYPE_CHECKING:
    import jobmagics

    from .app import JobmagicsApp

API = "jobmagics/api"
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
RETRY_AFTER_S = 1
STATES = {s.value for s in State}
FLAGS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}

__all__ = ["BadRequest", "JobmagicsHandler"]


def error_status(exc: BaseException) -> int | None:
    """The HTTP status of an error raised while handling a request (None: unexpected)."""
    if isinstance(exc, web.HTTPError):
        return exc.status_code
    for kind, status in ((JobNotFound, 404), (PermissionDenied, 403), (InvalidTransition, 409),
                         (InvalidJob, 400), (BadRequest, 400), (QueueError, 503)):
        if isinstance(exc, kind):
            return status
    if isinstance(exc, JobmagicsError):
        return 400
    return None


class JobmagicsHandler(APIHandler):
    """Base of every route: the queue calls, argument parsing, and the one error mapping."""

    auth_resource = "jobmagics"

    @property
    def _track_activity(self) -> bool:  # type: ignore[override]
        # The sidebar reads the queue in the background: reading is not user activity, so
        # an idle server can still be culled (the jobs live in the queue, not here).
        # Acting on jobs (POST) is.
        return self.request.method != "GET"

    @property
    def app(self) -> JobmagicsApp:
        return self.settings["jobmagics"]

    async def queue_call(self, call: Callable[[jobmagics.Queue], Any]) -> Any:
        """``call(queue)`` in a worker thread (never on the event loop)."""
        app = self.app
        return await app.calls.run(lambda: call(app.get_queue()))

    async def answer(self, build: Callable[[jobmagics.Queue], Any], status: int = 200) -> None:
        """Reply with the JSON of ``build(queue)``, built and encoded off the event loop."""
        text = await self.queue_call(lambda q: json.dumps(build(q), default=str))
        self.set_status(status)
        self.finish(text)

    # ---- the one place where errors become HTTP statuses ----------------------------
    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        mapped = error_status(exc) if exc is not None else None
        status = mapped or status_code
        if isinstance(exc, web.HTTPError):
            message = exc.log_message or exc.reason or responses.get(status, "error")
            kind = type(exc).__name__
        elif exc is not None and mapped is not None:
            message, kind = str(exc), type(exc).__name__
        else:
            message = (responses.get(status, "error") if exc is None
                       else "internal error in the jobmagics server extension")
            kind = type(exc).__name__ if exc is not None else "HTTPError"
        if isinstance(exc, QueueBusy):
            self.set_header("Retry-After", str(RETRY_AFTER_S))
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message, "type": kind}))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        status = error_status(value) if value is not None else None
        if status is not None and not isinstance(value, web.HTTPError):
            self.log.info("jobmagics %s %s -> %d %s: %s", self.request.method, self.request.uri,
                          status, typ.__name__, value)
            return
        super().log_exception(typ, value, tb)

    # ---- parsing ------------------------------------------------------------------------
    def int_arg(self, name: str, default: int, minimum: int | None = 0,
                maximum: int | None = None) -> int:
        raw = self.get_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise BadRequest(f"{name} must be a whole number, not {raw[:100]!r}") from None
        if minimum is not None and value < minimum:
            raise BadRequest(f"{name} must be at least {minimum}, not {value}")
        if maximum is not None and value > maximum:
            raise BadRequest(f"{name} must be at most {maximum}, not {value}")
        return value

    def float_arg(self, name: str) -> float | None:
        raw = self.get_argument(name, None)
        if raw is None or raw == "":
            return None
        try:
            value = float(raw)
        except ValueError:
            raise BadRequest(f"{name} must be a number, not {raw[:100]!r}") from None
        if not math.isfinite(value):
            raise BadRequest(f"{name} must be a finite number, not {raw!r}")
        return value

    def states_arg(self) -> list[str] | None:
        raw = self.get_argument("state", None)
        if not raw:
            return None
        states = [s.strip() for s in raw.split(",") if s.strip()]
        unknown = [s for s in states if s not in STATES]
        if unknown:
            raise BadRequest(f"unknown state {unknown[0][:100]!r}"
                             f" (one of {', '.join(sorted(STATES))})")
        return states

    def queue_page(self) -> Callable[[jobmagics.Queue], dict[str, Any]]:
        """The page of the active list this request's arguments ask for (``limit``,
        ``offset``, ``user``/``mine``, ``elements``): what ``GET queue`` answers and what a long
        poll asked ``include=queue`` carries. Arguments are checked now, the page read later."""
        user, mine = self.owner_args()
        limit = self.int_arg("limit", DEFAULT_LIMIT, 0, MAX_LIMIT)
        offset = self.int_arg("offset", 0, 0)
        elements = self.flag_arg("elements", False)
        return lambda q: queue_page(q, limit=limit, offset=offset,
                                    user=q.user if mine else user, elements=elements)

    def owner_args(self) -> tuple[str | None, bool]:
        """(``user=`` filter, ``mine=1``: the server's own user's jobs only)."""
        return self.text_arg("user"), self.get_argument("mine", "") not in ("", "0", "false")

    def flag_arg(self, name: str, default: bool) -> bool:
        raw = self.get_argument(name, None)
        if raw is None or raw == "":
            return default
        if raw.lower() not in FLAGS:
            raise BadRequest(f"{name} must be 1 or 0 (true or false), not {raw[:100]!r}")
        return FLAGS[raw.lower()]

    def text_arg(self, name: str) -> str | None:
        # tornado has already replaced control characters (NUL included) with spaces
        return self.get_argument(name, None) or None


class JobsHandler(JobmagicsHandler):
    """GET: one page of jobs (filters, limit, offset) and the total; ``elements=0`` leaves the
    elements of arrays out of both (the sidebar's history: an array is one row of its own, and
    a 10,000-element array would fill the page). POST: submit a job."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        states, name, since = self.states_arg(), self.text_arg("name"), self.float_arg("since")
        user, mine = self.owner_args()
        limit = self.int_arg("limit", DEFAULT_LIMIT, 0, MAX_LIMIT)
        offset = self.int_arg("offset", 0, 0)
        elements = self.flag_arg("elements", True)

        def page(q: jobmagics.Queue) -> dict[str, Any]:
            who = q.user if mine else user
            version = q.change_version()
            jobs = q.jobs(state=states, user=who, name=name, since=since, limit=limit,
                          offset=offset, elements=elements)
            total = q.count(state=states, user=who, name=name, since=since, elements=elements)
            may = may_act_on(q)
            return {"jobs": [listed(j, may) for j in jobs], "total": total, "limit": limit,
                    "offset": offset, "user": q.user, "version": version}

        await self.answer(page)

    @web.authenticated
    @authorized
    async def post(self) -> None:
        raw = self.request.body
        root = Path(self.settings.get("server_root_dir") or os.getcwd())

        def submit(q: jobmagics.Queue) -> dict[str, Any]:
            keywords = submit_keywords(json_object(raw), root)
            try:
                job = q.submit(**keywords)
            except TypeError as exc:            # a field of the wrong kind deep in the spec
                raise BadRequest(str(exc)) from None
            return {"job": listed(job)}

        await self.answer(submit, status=201)


class QueueHandler(JobmagicsHandler):
    """GET the active jobs in the order they will run (running; pending by priority, then
    submission; waiting): one page, the ``counts`` per state, the ``total`` and how many
    ``more`` follow the page. An array is one row: its elements are left out of the page and
    its counts, and ``arrays`` lists the active arrays (``elements=1``: list them as jobs)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.answer(self.queue_page())


class JobHandler(JobmagicsHandler):
    """GET one job whole: code, config, options, (its owner's) env, events, ``can_act``."""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        await self.answer(lambda q: detailed(q, job_id))


class LogHandler(JobmagicsHandler):
    """GET a job's log from a byte offset (negative: that many bytes from the end)."""

    @web.authenticated
    @authorized
    async def get(self, job_id: str) -> None:
        offset = self.int_arg("offset", 0, minimum=None)
        await self.answer(lambda q: read_log(q.get(job_id), offset))


class StatsHandler(JobmagicsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.answer(lambda q: q.stats())


class WhoAmIHandler(JobmagicsHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.answer(lambda q: {"user": q.user, "admin": q.is_admin(), "queue": str(q.path)})


class ActionHandler(JobmagicsHandler):
    """POST cancel | retry | hold | release of one job, or of an array (its elements the
    move applies to): answers ``{"job": ...}`` or ``{"array": ...}``."""

    @web.authenticated
    @authorized
    async def post(self, job_id: str, action: str) -> None:
        def act(q: jobmagics.Queue) -> dict[str, Any]:
            q.apply(action, [job_id])
            return row_of(q, job_id)

        await self.answer(act)


class BulkActionHandler(JobmagicsHandler):
    """POST ``{"action": "cancel", "ids": [...]}``: every id is checked (exists, permitted, a
    legal move) before any job changes, in one transaction (``Queue.apply``); the first
    problem, naming its job, is the answer, and then nothing changed. An array's id stands for
    its elements the move applies to; the answer lists it under ``arrays``."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        raw = self.request.body

        def act(q: jobmagics.Queue) -> dict[str, Any]:
            action, ids = bulk_action(json_object(raw))
            q.apply(action, ids)
            rows = [row_of(q, i) for i in dict.fromkeys(ids)]
            return {"action": action, "jobs": [r["job"] for r in rows if "job" in r],
                    "arrays": [r["array"] for r in rows if "array" in r]}

        await self.answer(act)


class NoRouteHandler(JobmagicsHandler):
    """Anything else under /jobmagics/api/: a JSON 404 (after authentication)."""

    @web.authenticated
    def get(self, rest: str) -> None:
        raise web.HTTPError(404, f"no route /jobmagics/api/{rest} (see jobmagics.server.app)")

    post = get
