"""/auth: register, login, me."""

from __future__ import annotations

from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, get, post

from application.accounts import GetAccount, LogIn, RegisterUser
from entrypoints.http.auth import CurrentUser, client_address
from entrypoints.http.presenters import user_body
from entrypoints.http.schemas import LoginRequest, RegisterRequest, TokenBody, UserBody


class AccountController(Controller):
    path = "/auth"
    tags = ["Auth"]

    @post("/register", summary="Create an account", security=[])
    async def register(self, data: RegisterRequest, register: FromDishka[RegisterUser]) -> UserBody:
        """Emails are unique regardless of case; passwords need at least 8 characters."""
        return user_body(await register(data.email, data.password, data.username))

    @post("/login", summary="Get an access token", status_code=200, security=[])
    async def login(self, data: LoginRequest, request: Request[Any, Any, Any], log_in: FromDishka[LogIn]) -> TokenBody:
        """Repeated failed attempts for one email or from one address answer 429 until the window passes."""
        token = await log_in(data.email, data.password, client_address(request))
        return TokenBody(access_token=token.token, expires_in=token.expires_in)

    @get("/me", summary="The current user and their quota")
    async def me(self, user: FromDishka[CurrentUser], get_account: FromDishka[GetAccount]) -> UserBody:
        return user_body(await get_account(user.id))
