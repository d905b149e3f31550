"""Administration: the accounts of every user, their quotas and flags, and the server's figures.

The HTTP API passes the signed-in user as `acting_admin`, who must be an administrator; the command line passes
None: whoever runs it on the server is its operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from application.accounts import Account, InactiveAccounts, current_quota
from application.policy import Policy
from application.ports import (
    Clock,
    Page,
    PasswordHasher,
    QuotaLedger,
    SiteStats,
    UnitOfWork,
    UserLibraryCounts,
)
from domain.errors import EmailTaken, Forbidden, NotAuthenticated, UserNotFound
from domain.quota import QuotaUsage
from domain.users import (
    AccountChanges,
    User,
    apply_account_changes,
    check_password,
    check_quota_limit,
    clean_username,
    normalize_email,
)


@dataclass(frozen=True)
class ManagedAccount:
    """An account as administrators see it."""

    user: User
    quota: QuotaUsage
    score_count: int
    trash_bytes: int


async def check_admin(uow: UnitOfWork, acting_admin: UUID | None) -> None:
    """Only administrators may act (None: the operator at the command line)."""
    if acting_admin is None:
        return
    user = await uow.users.get(acting_admin)
    if user is None:
        raise NotAuthenticated("The account of this token no longer exists.")
    if not user.is_admin:
        raise Forbidden()


async def _managed(
    uow: UnitOfWork, ledger: QuotaLedger, users: list[User], counts: dict[UUID, UserLibraryCounts], now: datetime
) -> list[ManagedAccount]:
    accounts = []
    for user in users:
        library = counts.get(user.id, UserLibraryCounts())
        quota = await current_quota(uow, ledger, user, now)
        accounts.append(ManagedAccount(user, quota, library.score_count, library.trash_bytes))
    return accounts


class ListUsers:
    """Every account, oldest first, optionally those whose email or username contains a text (ignoring case)."""

    def __init__(self, uow: UnitOfWork, ledger: QuotaLedger, clock: Clock) -> None:
        self._uow = uow
        self._ledger = ledger
        self._clock = clock

    async def __call__(
        self, text: str | None, limit: int, offset: int, acting_admin: UUID | None
    ) -> Page[ManagedAccount]:
        async with self._uow.autocommit() as uow:
            await check_admin(uow, acting_admin)
            page = await uow.users.search(text.strip() if text else None, limit, offset)
            counts = await uow.stats.user_library_counts([user.id for user in page.items])
        items = await _managed(self._uow, self._ledger, list(page.items), counts, self._clock.now())
        return Page(items, page.total, page.limit, page.offset)


class GetUser:
    """One account, by id or by email."""

    def __init__(self, uow: UnitOfWork, ledger: QuotaLedger, clock: Clock) -> None:
        self._uow = uow
        self._ledger = ledger
        self._clock = clock

    async def __call__(self, user_id: UUID, acting_admin: UUID | None) -> ManagedAccount:
        async with self._uow.autocommit() as uow:
            await check_admin(uow, acting_admin)
            user = await uow.users.get(user_id)
            if user is None:
                raise UserNotFound()
            counts = await uow.stats.user_library_counts([user.id])
        [account] = await _managed(self._uow, self._ledger, [user], counts, self._clock.now())
        return account

    async def by_email(self, email: str, acting_admin: UUID | None) -> ManagedAccount:
        async with self._uow.autocommit() as uow:
            await check_admin(uow, acting_admin)
            user = await uow.users.get_by_email(email.strip().lower())
        if user is None:
            raise UserNotFound(f"No account has the email {email.strip()!r}.")
        return await self(user.id, acting_admin)


class ChangeUser:
    """Change an account's quota limit, active flag or administrator role (see domain.users.apply_account_changes).

    The quota ledger takes the limit with every reserve and confirm, so a new limit needs nothing of it. A
    deactivated account's tokens are refused by this process at once, by the others within
    `Policy.account_status_refresh_seconds`; nothing of the account is deleted.
    """

    def __init__(
        self, uow: UnitOfWork, ledger: QuotaLedger, clock: Clock, inactive: InactiveAccounts, get_user: GetUser
    ) -> None:
        self._uow = uow
        self._ledger = ledger
        self._clock = clock
        self._inactive = inactive
        self._get_user = get_user

    async def __call__(self, user_id: UUID, changes: AccountChanges, acting_admin: UUID | None) -> ManagedAccount:
        async with self._uow as uow:
            await check_admin(uow, acting_admin)
            user = await uow.users.get(user_id, for_update=True)
            if user is None:
                raise UserNotFound()
            apply_account_changes(user, changes, acting_admin)
            await uow.users.save(user)
            await uow.commit()
        self._inactive.learn(user)
        return await self._get_user(user_id, acting_admin)


class CreateUser:
    """An account made by the server's operator (the command line), whether or not registration is open."""

    def __init__(self, uow: UnitOfWork, hasher: PasswordHasher, clock: Clock, policy: Policy) -> None:
        self._uow = uow
        self._hasher = hasher
        self._clock = clock
        self._policy = policy

    async def __call__(
        self, email: str, password: str, *, is_admin: bool = False, quota_limit_bytes: int | None = None
    ) -> Account:
        email = normalize_email(email)
        check_password(password)
        if quota_limit_bytes is not None:
            check_quota_limit(quota_limit_bytes)
        password_hash = await self._hasher.hash(password)
        async with self._uow as uow:
            if await uow.users.get_by_email(email) is not None:
                raise EmailTaken()
            user = User(
                id=uuid4(),
                email=email,
                username=clean_username(None, email),
                password_hash=password_hash,
                quota_limit_bytes=self._policy.default_quota_bytes if quota_limit_bytes is None else quota_limit_bytes,
                created_at=self._clock.now(),
                is_admin=is_admin,
            )
            await uow.users.add(user)
            await uow.commit()
        return Account(user, QuotaUsage(user.quota_limit_bytes, 0, 0))


class GetSiteStats:
    """How many accounts (and active ones), scores (and in the trash), stored and reserved bytes, and processing."""

    def __init__(self, uow: UnitOfWork, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(self, acting_admin: UUID | None) -> SiteStats:
        async with self._uow.autocommit() as uow:
            await check_admin(uow, acting_admin)
            return await uow.stats.site_stats(self._clock.now())
