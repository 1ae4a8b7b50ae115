"""The routes of edits: ``POST jobs/<id>/move`` with ``{"top": true}``, ``{"bottom": true}``,
``{"before": ID}`` or ``{"after": ID}``, and ``PATCH jobs/<id>/settings`` with the editable
settings to change (``{"priority": 5, "timeout": 600, "config": {"amplitude": 0.5}}``). Both
answer ``{"job": ...}`` as the other actions do. (``jobs/<id>`` itself is the read-only
``JobHandler``'s route, matched first: the settings have a path of their own.)"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..edits import field_changes
from ..errors import InvalidJob
from ..fields import check_submission, editable
from ..model import JobSettings
from ..store.edits import CONFIG, PLACES
from .bodies import BadRequest, json_object
from .handlers import JobmagicsHandler
from .views import row_of

if TYPE_CHECKING:
    import jobmagics

_JOB = r"jobs/(?P<job_id>[^/]+)"


def move_keywords(body: dict[str, Any]) -> dict[str, Any]:
    """``Queue.move``'s keywords from a move body: exactly one place."""
    unknown = sorted(set(body) - set(PLACES))
    if unknown or len(body) != 1:
        raise BadRequest(f"a move body is one of {{\"top\": true}}, {{\"bottom\": true}},"
                         f" {{\"before\": ID}}, {{\"after\": ID}}, not {sorted(body)}")
    (where, value), = body.items()
    if where in ("top", "bottom") and value is not True:
        raise BadRequest(f"{where} must be true, not {value!r:.80}")
    if where in ("before", "after") and not isinstance(value, str):
        raise BadRequest(f"{where} must be a job id, not {value!r:.80}")
    return {where: value}


def settings_changes(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The editable settings (JSON types checked as a submit body's) and an experiment's
    config keys of a PATCH body."""
    config = body.pop(CONFIG, None)
    if config is not None and not isinstance(config, dict):
        raise BadRequest(f"{CONFIG} must be a JSON object of keys to set, not {config!r:.80}")
    allowed = editable(JobSettings)
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise BadRequest(f"{unknown[0]!r} cannot be changed; what can: {', '.join(allowed)},"
                         f" {CONFIG}")
    if not body and not config:
        raise BadRequest("nothing to change: give at least one setting")
    try:
        check_submission(JobSettings, body)
        field_changes(body)
    except InvalidJob as exc:
        raise BadRequest(str(exc)) from None
    return body, config


class MoveHandler(JobmagicsHandler):
    """POST a waiting or pending job's new place in line among the jobs of its priority."""

    @web.authenticated
    @authorized
    async def post(self, job_id: str) -> None:
        raw = self.request.body

        def move(q: jobmagics.Queue) -> dict[str, Any]:
            q.move(job_id, **move_keywords(json_object(raw)))
            return row_of(q, job_id)

        await self.answer(move)


class SettingsHandler(JobmagicsHandler):
    """PATCH settings of a waiting or pending job (owner or queue admin), validated as a
    submission; the change is an event in its history."""

    @web.authenticated
    @authorized
    async def patch(self, job_id: str) -> None:
        raw = self.request.body

        def update(q: jobmagics.Queue) -> dict[str, Any]:
            changes, config = settings_changes(json_object(raw))
            q.update(job_id, config=config, **changes)
            return row_of(q, job_id)

        await self.answer(update)


ROUTES: list[tuple[str, Any]] = [      # (path under /jobmagics/api/, handler class)
    (rf"{_JOB}/move", MoveHandler),
    (rf"{_JOB}/settings", SettingsHandler),
]
