"""/admin: every account and the server's figures, for administrators only."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get, patch
from litestar.params import Parameter
from msgspec import UnsetType

from application.admin import ChangeUser, GetSiteStats, GetUser, ListUsers
from domain.errors import Forbidden, UserNotFound
from domain.users import AccountChanges
from entrypoints.http.auth import CurrentUser
from entrypoints.http.openapi import documented
from entrypoints.http.pagination import DEFAULT_LIMIT, Limit, Offset, window
from entrypoints.http.presenters import managed_user_body, site_stats_body
from entrypoints.http.schemas import NO_NUL, ManagedUserBody, ManagedUserPage, SiteStatsBody, UpdateUserRequest


class AdminController(Controller):
    path = "/admin"
    tags = ["Admin"]

    @get("/users", summary="List accounts", **documented("listUsers", Forbidden))
    async def list_users(
        self,
        user: FromDishka[CurrentUser],
        list_users: FromDishka[ListUsers],
        q: Annotated[
            str | None,
            Parameter(
                max_length=254,
                pattern=NO_NUL,
                required=False,
                description="Finds this text in the email or the username, ignoring case.",
            ),
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> ManagedUserPage:
        """Every account, oldest first, with its quota, its number of scores and the bytes in its trash."""
        page = window(limit, offset)
        result = await list_users(q or None, page.limit, page.offset, user.id)
        return ManagedUserPage([managed_user_body(a) for a in result.items], result.total, result.limit, result.offset)

    @get(
        "/users/{user_id:uuid}",
        summary="Get an account",
        **documented("getUser", Forbidden, UserNotFound, path=True),
    )
    async def get_user(
        self, user_id: UUID, user: FromDishka[CurrentUser], get_user: FromDishka[GetUser]
    ) -> ManagedUserBody:
        """One account, with its quota, its number of scores and the bytes in its trash."""
        return managed_user_body(await get_user(user_id, user.id))

    @patch(
        "/users/{user_id:uuid}",
        summary="Change an account's quota, active flag or administrator role",
        **documented("updateUser", Forbidden, UserNotFound, body=True, path=True),
    )
    async def update_user(
        self, user_id: UUID, data: UpdateUserRequest, user: FromDishka[CurrentUser], change_user: FromDishka[ChangeUser]
    ) -> ManagedUserBody:
        """Changes the fields given. A quota below the user's usage refuses their new uploads (409
        `quota_exceeded`) and deletes nothing. A deactivated user cannot log in (401 `account_disabled`) and their
        tokens are refused within seconds; nothing of theirs is deleted. Administrators may not remove their own
        administrator role or deactivate themselves (400 `validation_error`)."""
        changes = AccountChanges(
            quota_limit_bytes=None if isinstance(data.quota_limit_bytes, UnsetType) else data.quota_limit_bytes,
            is_active=None if isinstance(data.is_active, UnsetType) else data.is_active,
            is_admin=None if isinstance(data.is_admin, UnsetType) else data.is_admin,
        )
        return managed_user_body(await change_user(user_id, changes, user.id))

    @get("/stats", summary="The server's figures", **documented("getSiteStats", Forbidden))
    async def stats(self, user: FromDishka[CurrentUser], get_stats: FromDishka[GetSiteStats]) -> SiteStatsBody:
        """Accounts (and active ones), scores in the libraries and in the trash, bytes stored and reserved by
        pending uploads, and scores pending, processing or failed."""
        return site_stats_body(await get_stats(user.id))
