"""/dashboard."""

from __future__ import annotations

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get

from application.dashboard import GetDashboard
from entrypoints.http.auth import CurrentUser
from entrypoints.http.presenters import dashboard_body
from entrypoints.http.schemas import DashboardBody


class DashboardController(Controller):
    path = "/dashboard"
    tags = ["Dashboard"]

    @get("/", summary="Quota, counts, processing and the newest scores")
    async def dashboard(self, user: FromDishka[CurrentUser], get_dashboard: FromDishka[GetDashboard]) -> DashboardBody:
        return dashboard_body(await get_dashboard(user.id))
