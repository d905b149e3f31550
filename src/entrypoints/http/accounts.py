"""/auth: register, login, me."""

from __future__ import annotations

from typing import Any

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, get, post

from application.accounts import GetAccount, LogIn, RegisterUser
from domain.errors import AccountDisabled, EmailTaken, InvalidCredentials, RegistrationClosed, TooManyRequests
from entrypoints.http.auth import CurrentUser, client_address
from entrypoints.http.openapi import documented
from entrypoints.http.presenters import user_body
from entrypoints.http.schemas import LoginRequest, RegisterRequest, TokenBody, UserBody


class AccountController(Controller):
    path = "/auth"
    tags = ["Auth"]

    @post(
        "/register",
        summary="Create an account",
        **documented("register", EmailTaken, RegistrationClosed, TooManyRequests, body=True, public=True),
    )
    async def register(
        self, data: RegisterRequest, request: Request[Any, Any, Any], register: FromDishka[RegisterUser]
    ) -> UserBody:
        """Creates an account with the default storage quota; no token is needed. Emails are unique regardless of
        case; passwords need at least 8 characters. Log in afterwards to get an access token. While registration is
        closed (`SCOREMATE_REGISTRATION=closed`) it answers 403 `registration_closed`."""
        return user_body(await register(data.email, data.password, data.username, client_address(request)))

    @post(
        "/login",
        summary="Get an access token",
        status_code=200,
        **documented("login", InvalidCredentials, AccountDisabled, TooManyRequests, body=True, public=True),
    )
    async def login(self, data: LoginRequest, request: Request[Any, Any, Any], log_in: FromDishka[LogIn]) -> TokenBody:
        """Exchanges email and password for a bearer token that expires after `expires_in` seconds.
        Repeated failed attempts for one email or from one address answer 429 (with `Retry-After`) until the
        window passes; successful logins are not limited. A deactivated account answers 401 `account_disabled`
        (only with the right password)."""
        token = await log_in(data.email, data.password, client_address(request))
        return TokenBody(access_token=token.token, expires_in=token.expires_in, token_type="bearer")

    @get("/me", summary="The current user and their quota", **documented("getMe"))
    async def me(self, user: FromDishka[CurrentUser], get_account: FromDishka[GetAccount]) -> UserBody:
        """The account of the bearer token, with its storage quota:
        `available_bytes = limit_bytes - used_bytes - reserved_bytes`."""
        return user_body(await get_account(user.id))
