"""Register, log in, and read one's own account."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

from application.policy import Policy
from application.ports import (
    AccessToken,
    Clock,
    PasswordHasher,
    QuotaLedger,
    RateLimiter,
    RateRule,
    TokenIssuer,
    UnitOfWork,
    quota_of,
)
from domain.errors import (
    AccountDisabled,
    EmailTaken,
    InvalidCredentials,
    NotAuthenticated,
    RegistrationClosed,
    TooManyRequests,
)
from domain.quota import QuotaUsage
from domain.uploads import UploadStatus
from domain.users import User, check_password, clean_username, normalize_email

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Account:
    user: User
    quota: QuotaUsage


async def existing_user(uow: UnitOfWork, user_id: UUID, *, for_update: bool = False) -> User:
    """The user a valid token names; a token can outlive its account."""
    user = await uow.users.get(user_id, for_update=for_update)
    if user is None:
        raise NotAuthenticated("The account of this token no longer exists.")
    return user


async def current_quota(uow: UnitOfWork, ledger: QuotaLedger, user: User, now: datetime) -> QuotaUsage:
    """The ledger's count; the database's while the ledger has lost its data and waits to be rebuilt."""
    if await ledger.rebuilt():
        return quota_of(user, await ledger.usage(user.id))
    async with uow:
        live = await uow.uploads.list_live(user.id)
    used = sum(upload.size_bytes for upload in live if upload.status is UploadStatus.CONFIRMED)
    reserved = sum(
        upload.size_bytes for upload in live if upload.status is UploadStatus.PENDING and not upload.is_expired(now)
    )
    return quota_of(user, (used, reserved))


class RegisterUser:
    """Create an account. Emails are unique regardless of case; the quota limit comes from the policy.

    Registrations are counted per client address, since each one costs a deliberately slow password hash. While
    registration is closed (`Policy.registration_open`), nobody registers: administrators create accounts.
    """

    def __init__(
        self, uow: UnitOfWork, hasher: PasswordHasher, limiter: RateLimiter, clock: Clock, policy: Policy
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._limiter = limiter
        self._clock = clock
        self._policy = policy

    async def __call__(
        self, email: str, password: str, username: str | None = None, client_address: str | None = None
    ) -> Account:
        if not self._policy.registration_open:
            raise RegistrationClosed()
        email = normalize_email(email)
        check_password(password)
        name = clean_username(username, email)
        if client_address is not None:
            await self._count_attempt(f"register-address:{client_network(client_address)}")
        password_hash = await self._hasher.hash(password)
        async with self._uow as uow:
            if await uow.users.get_by_email(email) is not None:
                raise EmailTaken()
            user = User(
                id=uuid4(),
                email=email,
                username=name,
                password_hash=password_hash,
                quota_limit_bytes=self._policy.default_quota_bytes,
                created_at=self._clock.now(),
            )
            await uow.users.add(user)
            await uow.commit()
        return Account(user, QuotaUsage(user.quota_limit_bytes, 0, 0))

    async def _count_attempt(self, key: str) -> None:
        retry_after = await self._limiter.acquire(key, self._policy.register_rule)
        if retry_after is not None:
            raise TooManyRequests("Too many registrations from this address; try again later.", retry_after=retry_after)


class LogIn:
    """Exchange email and password for an access token.

    Failed attempts are counted three ways, so that guessing stays bounded while nobody can lock an account's
    owner out by failing on purpose:
    - per email and client address (`login_failure_rule`): past it, that address may not try that email (not even
      with the right password, so a guesser learns nothing) until the window ends; other addresses may;
    - per client address, whatever the email (`login_address_failure_rule`): one address guessing many accounts;
    - per email, from every address (`login_email_failure_rule`, higher and longer): past it, for the rest of its
      window, each address has `login_guarded_failures` more wrong passwords for that email and is then refused,
      so the right password from an address that has not been failing still works, while many addresses get
      only a few guesses each.
    An IPv6 client counts by its /64 network, which one subscriber usually holds whole. An attempt counts while
    its password is checked (so a burst of guesses cannot pass a limit together); a success is then taken back.
    A deactivated account is refused only once its password is verified, so that guessers learn nothing of it.
    """

    def __init__(
        self, uow: UnitOfWork, hasher: PasswordHasher, tokens: TokenIssuer, limiter: RateLimiter, policy: Policy
    ) -> None:
        self._uow = uow
        self._hasher = hasher
        self._tokens = tokens
        self._limiter = limiter
        self._pair_rule = policy.login_failure_rule
        self._address_rule = policy.login_address_failure_rule
        self._email_rule = policy.login_email_failure_rule
        self._guarded_rule = RateRule(policy.login_guarded_failures, policy.login_email_failure_rule.window_seconds)

    async def __call__(self, email: str, password: str, client_address: str) -> AccessToken:
        email = email.strip().lower()
        client = client_network(client_address)
        # Every attempt is counted before the password is checked, so a burst of concurrent guesses cannot
        # get past the limit together; attempts that turn out not to be failures are taken back.
        counted: list[str] = []
        try:
            await self._count(f"login-address:{client}", self._address_rule, counted)
            await self._count(f"login-pair:{client} {email}", self._pair_rule, counted)
            if await self._limiter.acquire(f"login-email:{email}", self._email_rule) is None:
                counted.append(f"login-email:{email}")
            else:  # this email has failed too often from everywhere: a few tries per address are left
                await self._count(f"login-guarded:{client} {email}", self._guarded_rule, counted)
            async with self._uow as uow:
                user = await uow.users.get_by_email(email)
            if user is None:
                await self._hasher.verify_nobody(password)
            if user is None or not await self._hasher.verify(user.password_hash, password):
                counted.clear()
                raise InvalidCredentials()
            if not user.is_active:
                raise AccountDisabled()
            return self._tokens.issue(user.id)
        finally:
            for key in counted:
                await self._give_back(key)

    async def _count(self, key: str, rule: RateRule, counted: list[str]) -> None:
        retry_after = await self._limiter.acquire(key, rule)
        if retry_after is not None:
            raise TooManyRequests("Too many failed login attempts; try again later.", retry_after=retry_after)
        counted.append(key)

    async def _give_back(self, key: str) -> None:
        try:
            await self._limiter.release(key)
        except Exception:  # the answer stands; at worst this attempt counts until its window ends
            logger.warning("could not take back a counted login attempt for %s", key.partition(":")[0], exc_info=True)


def client_network(address: str) -> str:
    """What counts as one client: its IPv4 address, or the /64 network of an IPv6 one (a subscriber's usual share)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


class InactiveAccounts:
    """The deactivated accounts as this process knows them: one per process, so that no request reads the database
    to learn whether its token's account is still active.

    The set is read again (one query) by the first request after `Policy.account_status_refresh_seconds`, so a
    deactivation by another process takes effect within that time; this process's own changes (`learn`) at once.
    """

    def __init__(self, policy: Policy) -> None:
        self._refresh_seconds = policy.account_status_refresh_seconds
        self._inactive: frozenset[UUID] = frozenset()
        self._read_at: float | None = None
        self._reading = asyncio.Lock()

    async def includes(self, user_id: UUID, uow: UnitOfWork, now: datetime) -> bool:
        moment = now.timestamp()
        if self._stale(moment):
            async with self._reading:
                if self._stale(moment):  # unless a concurrent request has just read it
                    async with uow.autocommit() as reading:
                        self._inactive = frozenset(await reading.users.inactive_ids())
                    self._read_at = moment
        return user_id in self._inactive

    def learn(self, user: User) -> None:
        """This process has just changed the account."""
        self._inactive = self._inactive - {user.id} if user.is_active else self._inactive | {user.id}

    def _stale(self, moment: float) -> bool:
        return self._read_at is None or not 0 <= moment - self._read_at < self._refresh_seconds


class Authenticate:
    """Turn a bearer token into the id of an existing user whose account is active (see InactiveAccounts)."""

    def __init__(self, tokens: TokenIssuer, inactive: InactiveAccounts, uow: UnitOfWork, clock: Clock) -> None:
        self._tokens = tokens
        self._inactive = inactive
        self._uow = uow
        self._clock = clock

    async def __call__(self, authorization: str | None) -> UUID:
        scheme, _, token = (authorization or "").partition(" ")
        user_id = self._tokens.verify(token.strip()) if scheme.lower() == "bearer" else None
        if user_id is None:
            raise NotAuthenticated()
        if await self._inactive.includes(user_id, self._uow, self._clock.now()):
            raise NotAuthenticated("This account is deactivated.")
        return user_id


class GetAccount:
    """The user with their quota: limit, used, reserved and available bytes."""

    def __init__(self, uow: UnitOfWork, ledger: QuotaLedger, clock: Clock) -> None:
        self._uow = uow
        self._ledger = ledger
        self._clock = clock

    async def __call__(self, user_id: UUID) -> Account:
        async with self._uow.autocommit() as uow:
            user = await existing_user(uow, user_id)
        return Account(user, await current_quota(self._uow, self._ledger, user, self._clock.now()))
