"""Who is calling: the bearer token of the request, turned into the id of a user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from dishka import Provider, Scope, provide
from litestar import Request

from application.accounts import Authenticate
from entrypoints.http.openapi import PUBLIC


@dataclass(frozen=True)
class CurrentUser:
    id: UUID


class HttpProvider(Provider):
    @provide(scope=Scope.REQUEST)
    def current_user(
        self,
        request: Request,  # type: ignore[type-arg]  # dishka matches the bare class LitestarProvider provides
        authenticate: Authenticate,
    ) -> CurrentUser:
        return CurrentUser(authenticate(request.headers.get("authorization")))


def client_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


async def authenticate_first(request: Request[Any, Any, Any]) -> None:
    """Before a protected handler: 401 comes before anything about the request's body or parameters."""
    if request.route_handler.opt.get(PUBLIC):
        return
    authenticate = await request.state.dishka_container.get(Authenticate)
    authenticate(request.headers.get("authorization"))
