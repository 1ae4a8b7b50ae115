"""The routes behind the sidebar's dashboard: each resource's header, the live workers, what
runs next (``GET dashboard``, :func:`jobmagics.dashboard.dashboard`), and pausing or resuming
a resource or the whole queue (admins only: ``Queue.pause`` refuses others with 403; an
unknown resource is 400, and then nothing changed). A pause or resume answers the dashboard
as it is after it."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..dashboard import dashboard
from .handlers import JobmagicsHandler

if TYPE_CHECKING:
    import jobmagics

SWITCHES = ("pause", "resume")


class DashboardHandler(JobmagicsHandler):
    """GET the dashboard (see :mod:`jobmagics.dashboard`)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        await self.answer(dashboard)


class PauseHandler(JobmagicsHandler):
    """POST ``resources/<name>/pause|resume`` or ``queue/pause|resume``: the new dashboard."""

    @web.authenticated
    @authorized
    async def post(self, switch: str, resource: str | None = None) -> None:
        def flip(q: jobmagics.Queue) -> dict[str, Any]:
            if switch == "pause":
                q.pause(resource)
            else:
                q.resume(resource)
            return dashboard(q)

        await self.answer(flip)


_SWITCH = rf"(?P<switch>{'|'.join(SWITCHES)})"
ROUTES: list[tuple[str, Any]] = [
    ("dashboard", DashboardHandler),
    (rf"resources/(?P<resource>[^/]+)/{_SWITCH}", PauseHandler),
    (rf"queue/{_SWITCH}", PauseHandler),
]
