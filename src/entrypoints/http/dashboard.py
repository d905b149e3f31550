"""/dashboard."""

from __future__ import annotations

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get

from application.dashboard import GetDashboard
from entrypoints.http.auth import CurrentUser
from entrypoints.http.openapi import documented
from entrypoints.http.presenters import dashboard_body
from entrypoints.http.schemas import DashboardBody


class DashboardController(Controller):
    path = "/dashboard"
    tags = ["Dashboard"]

    @get("/", summary="Quota, counts, processing and the newest scores", **documented("getDashboard"))
    async def dashboard(self, user: FromDishka[CurrentUser], get_dashboard: FromDishka[GetDashboard]) -> DashboardBody:
        """The user's quota, how many scores and setlists they have, their total pages, how many scores are
        pending, processing or failed, how many scores the trash holds and their bytes, and up to 5 scores, newest
        first. Scores in the trash count only under `trash`."""
        return dashboard_body(await get_dashboard(user.id))
