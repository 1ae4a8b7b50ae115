"""The routes of arrays: ``GET arrays`` (one row each) and ``GET arrays/<id>`` (the array and a
page of its elements). Acting on an array goes through the jobs' action routes with its id."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from .handlers import DEFAULT_LIMIT, MAX_LIMIT, JobmagicsHandler
from .views import array_page, listed_array, may_act_on

if TYPE_CHECKING:
    import jobmagics

ELEMENTS_LIMIT = 100         # an array's elements come a page of this many at a time


class ArraysHandler(JobmagicsHandler):
    """GET arrays, newest first, one row each (counts per state, aggregated state, progress):
    ``active=1`` (the default) those with an element not ended, ``active=0`` all of them."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        user, mine = self.owner_args()
        active = self.flag_arg("active", True)
        limit = self.int_arg("limit", DEFAULT_LIMIT, 0, MAX_LIMIT)

        def page(q: jobmagics.Queue) -> dict[str, Any]:
            version = q.change_version()
            arrays = q.arrays(user=q.user if mine else user, active=active, limit=limit)
            may = may_act_on(q)
            return {"arrays": [listed_array(a, may(a.last_read.user)) for a in arrays],
                    "limit": limit, "active": active, "user": q.user, "version": version}

        await self.answer(page)


class ArrayHandler(JobmagicsHandler):
    """GET one array and a page of its elements by index (``offset``, ``limit``, ``state``),
    each as listings show a job."""

    @web.authenticated
    @authorized
    async def get(self, array_id: str) -> None:
        offset = self.int_arg("offset", 0, 0)
        limit = self.int_arg("limit", ELEMENTS_LIMIT, 0, MAX_LIMIT)
        states = self.states_arg()
        await self.answer(lambda q: array_page(q, array_id, offset, limit, states))
