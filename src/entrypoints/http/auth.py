"""Who is calling: the bearer token of the request, turned into the id of a user."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from dishka import Provider, Scope, provide
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from application.accounts import Authenticate
from domain.errors import NotAuthenticated
from entrypoints.http.openapi import PUBLIC
from entrypoints.settings import Settings


@dataclass(frozen=True)
class CurrentUser:
    id: UUID


_STATE_KEY = "current_user"


class HttpProvider(Provider):
    @provide(scope=Scope.REQUEST)
    async def current_user(
        self,
        request: Request,  # type: ignore[type-arg]  # dishka matches the bare class LitestarProvider provides
        authenticate: Authenticate,
    ) -> CurrentUser:
        # authenticate_first has verified the token before the handler: its answer is reused, not computed again.
        known = request.state.get(_STATE_KEY)
        if isinstance(known, CurrentUser):
            return known
        return CurrentUser(await authenticate(request.headers.get("authorization")))


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


async def authenticate_first(request: Request[Any, Any, Any]) -> None:
    """Before a protected handler: 401 comes before anything about the request's body or parameters."""
    if request.route_handler.opt.get(PUBLIC):
        return
    authenticate = await request.state.dishka_container.get(Authenticate)
    request.state[_STATE_KEY] = CurrentUser(await authenticate(request.headers.get("authorization")))


async def scraper_only(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guards /metrics: when SCOREMATE_METRICS_TOKEN is set, only callers sending it as their bearer token."""
    token = (await connection.state.dishka_container.get(Settings)).metrics_token
    sent = connection.headers.get("authorization", "")
    if token and not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
        raise NotAuthenticated("/metrics needs the bearer token set in SCOREMATE_METRICS_TOKEN.")
