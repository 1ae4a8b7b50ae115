"""Thin, authenticated handlers over the ``jobmagics.Queue`` API.

Every route needs an authenticated Jupyter user; state changes (POST) also need the XSRF
check that jupyter_server applies to cookie-authenticated requests. Errors are turned into
HTTP statuses in one place, :meth:`JobmagicsHandler.write_error`:

=====================================  ======
``JobNotFound``                        404
``PermissionDenied``                   403
``InvalidTransition``                  409
``InvalidJob``, ``BadRequest`` (400)   400
``QueueError`` (queue unreadable)      503
=====================================  ======

with a JSON body ``{"error": message, "type": ExceptionClassName}``.
"""
from __future__ import annotations

import asyncio
import json
import math
import os
import time
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
    QueueError,
)
from ..model import State

if TYPE_CHECKING:
    import jobmagics

    from .app import JobmagicsApp

API = "jobmagics/api"
LOG_CHUNK = 1 << 20          # at most 1 MiB of log per request
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
CHANGES_POLL_S = 0.1
CHANGES_MAX_S = 30.0
STATES = {s.value for s in State}
SUBMIT_FIELDS = {"command", "code", "name", "priority", "resources", "cpus", "memory", "after",
                 "timeout", "retries", "cwd", "hold"}
ACTIONS = ("cancel", "retry", "hold", "release")


class BadRequest(ValueError):
    """Malformed query parameters or request body (400)."""


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
    """Base of every route: the queue, argument parsing, and the one error mapping."""

    auth_resource = "jobmagics"

    @property
    def _track_activity(self) -> bool:  # type: ignore[override]
        # The sidebar reads the queue in the background: reading is not user activity, so
        # an idle server can still be culled (the jobs live in the queue, not here).
        # Acting on jobs (POST) is.
        return self.request.method != "GET"

    @property
    def app(self) -> JobmagicsApp:
        return self.settings["jobmagics"]  # type: ignore[no-any-return]

    @property
    def q(self) -> jobmagics.Queue:
        return self.app.get_queue()

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
            message = responses.get(status, "error") if exc is None else "internal error in the jobmagics server extension"
            kind = type(exc).__name__ if exc is not None else "HTTPError"
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
            raise BadRequest(f"{name} must be a whole number, not {raw!r}") from None
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
            raise BadRequest(f"{name} must be a number, not {raw!r}") from None
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
            raise BadRequest(f"unknown state {unknown[0]!r} (one of {', '.join(sorted(STATES))})")
        return states

    def json_body(self) -> dict[str, Any]:
        raw = self.request.body or b"{}"
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise BadRequest(f"the request body is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        return body

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data, default=str))


class JobsHandler(JobmagicsHandler):
    """GET: list jobs (filters and pagination). POST: submit a command or python job."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        q = self.q
        states = self.states_arg()
        user = self.get_argument("user", None) or None
        if self.get_argument("mine", "") not in ("", "0", "false"):
            user = q.user
        name = self.get_argument("name", None) or None
        since = self.float_arg("since")
        limit = self.int_arg("limit", DEFAULT_LIMIT, 0, MAX_LIMIT)
        offset = self.int_arg("offset", 0, 0)
        version = q.data_version()
        jobs = q.jobs(state=states, user=user, name=name, since=since, limit=limit, offset=offset)
        total = q.count(state=states, user=user, name=name, since=since)
        self.reply({"jobs": [j.to_dict() for j in jobs], "total": total, "limit": limit,
                    "offset": offset, "user": q.user, "version": version})

    @web.authenticated
    @authorized
    def post(self) -> None:
        body = self.json_body()
        unknown = sorted(set(body) - SUBMIT_FIELDS)
        if unknown:
            raise BadRequest(f"unknown field {unknown[0]!r} (allowed: {', '.join(sorted(SUBMIT_FIELDS))})")
        command, code = body.pop("command", None), body.pop("code", None)
        if (command is None) == (code is None):
            raise BadRequest('give exactly one of "command" (a list of strings) or "code" (a string)')
        if command is not None and (not isinstance(command, list) or not command
                                    or not all(isinstance(a, str) for a in command)):
            raise BadRequest('"command" must be a non-empty list of strings, e.g. ["python", "fit.py"]')
        if code is not None and not isinstance(code, str):
            raise BadRequest('"code" must be a string')
        body["cwd"] = self._resolve_cwd(body.get("cwd"))
        for key, kind in (("name", str), ("priority", int), ("cpus", int), ("retries", int),
                          ("hold", bool)):
            value = body.get(key)
            if value is not None and (not isinstance(value, kind)
                                      or (kind is int and isinstance(value, bool))):
                raise BadRequest(f'"{key}" must be a {kind.__name__}, not {value!r}')
        try:
            job = self.q.submit(command, code=code, **body) if command is not None else \
                self.q.submit(code=code, **body)
        except TypeError as exc:
            raise BadRequest(str(exc)) from None
        self.reply({"job": job.to_dict()}, status=201)

    def _resolve_cwd(self, cwd: Any) -> str:
        """A cwd relative to the server's root directory (where the notebooks are)."""
        root = Path(self.settings.get("server_root_dir") or os.getcwd()).expanduser().resolve()
        if cwd is None or cwd == "":
            return str(root)
        if not isinstance(cwd, str):
            raise BadRequest('"cwd" must be a path relative to the Jupyter root directory')
        path = (root / cwd.lstrip("/")).resolve()
        if path != root and root not in path.parents:
            raise BadRequest(f'"cwd" {cwd!r} is outside the Jupyter root directory')
        if not path.is_dir():
            raise BadRequest(f'"cwd" {cwd!r} is not a directory')
        return str(path)


class JobHandler(JobmagicsHandler):
    """GET one job with its state history and whether the current user may act on it."""

    @web.authenticated
    @authorized
    def get(self, job_id: str) -> None:
        q = self.q
        job = q.get(job_id)
        data = job.to_dict()
        self.reply({"job": data, "events": q.events(job_id),
                    "can_act": data["user"] == q.user or q.is_admin()})


class LogHandler(JobmagicsHandler):
    """GET a job's log from a byte offset (negative: that many bytes from the end)."""

    @web.authenticated
    @authorized
    def get(self, job_id: str) -> None:
        job = self.q.get(job_id)
        done = job.done                # read the state first: a finished job's log is complete
        offset = self.int_arg("offset", 0, minimum=None)
        data, size, start = b"", 0, offset
        try:
            with open(job.log_path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                start = max(0, size + offset) if offset < 0 else min(offset, size)
                handle.seek(start)
                data = handle.read(min(LOG_CHUNK, size - start))
        except FileNotFoundError:
            start = 0
        data = _whole_utf8(data, at_end=start + len(data) >= size and done)
        self.reply({"text": data.decode("utf-8", errors="replace"), "offset": start + len(data),
                    "size": size, "done": done})


def _whole_utf8(data: bytes, at_end: bool) -> bytes:
    """Drop a UTF-8 sequence cut at the end of a chunk (it comes whole with the next one)."""
    if at_end or not data:
        return data
    for cut in range(1, min(4, len(data)) + 1):
        byte = data[-cut]
        if byte < 0x80:                # ASCII: nothing cut
            return data
        if byte >= 0xC0:               # lead byte of a sequence of `need` bytes
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if cut >= need else data[:-cut]
    return data


class StatsHandler(JobmagicsHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        self.reply(self.q.stats())


class WhoAmIHandler(JobmagicsHandler):
    @web.authenticated
    @authorized
    def get(self) -> None:
        q = self.q
        self.reply({"user": q.user, "admin": q.is_admin(), "queue": str(q.path)})


class ChangesHandler(JobmagicsHandler):
    """Long poll: answers as soon as the queue's data version differs from ``version``."""

    _closed = False

    def on_connection_close(self) -> None:
        self._closed = True

    @web.authenticated
    @authorized
    async def get(self) -> None:
        version = self.int_arg("version", -1, minimum=None)
        timeout = self.float_arg("timeout")
        timeout = 25.0 if timeout is None else min(max(timeout, 0.0), CHANGES_MAX_S)
        q = self.q
        deadline = time.monotonic() + timeout
        current = q.data_version()
        while current == version and time.monotonic() < deadline and not self._closed:
            await asyncio.sleep(CHANGES_POLL_S)
            current = q.data_version()
        if not self._closed:
            self.reply({"version": current, "changed": current != version})


class ActionHandler(JobmagicsHandler):
    """POST cancel | retry | hold | release."""

    @web.authenticated
    @authorized
    def post(self, job_id: str, action: str) -> None:
        q = self.q
        if action == "retry":
            job = q.retry(job_id)
        else:
            getattr(q, action)(job_id)
            job = q.get(job_id)
        self.reply({"job": job.to_dict()})


class NoRouteHandler(JobmagicsHandler):
    """Anything else under /jobmagics/api/: a JSON 404 (after authentication)."""

    @web.authenticated
    def get(self, rest: str) -> None:
        raise web.HTTPError(404, f"no route /jobmagics/api/{rest} (see jobmagics.server.handlers)")

    post = get


def route_table() -> list[tuple[str, type[JobmagicsHandler]]]:
    job = r"(?P<job_id>[^/]+)"
    return [
        (rf"/{API}/jobs", JobsHandler),
        (rf"/{API}/jobs/{job}", JobHandler),
        (rf"/{API}/jobs/{job}/log", LogHandler),
        (rf"/{API}/jobs/{job}/(?P<action>{'|'.join(ACTIONS)})", ActionHandler),
        (rf"/{API}/stats", StatsHandler),
        (rf"/{API}/whoami", WhoAmIHandler),
        (rf"/{API}/changes", ChangesHandler),
        (rf"/{API}/(?P<rest>.*)", NoRouteHandler),
    ]
