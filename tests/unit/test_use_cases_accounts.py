"""RegisterUser, LogIn, Authenticate and GetAccount."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from uuid import uuid4

import pytest

from application.ports import RateRule
from domain.errors import EmailTaken, ErrorKind, InvalidCredentials, NotAuthenticated, TooManyRequests, ValidationError
from tests.unit.conftest import PASSWORD, World
from tests.unit.fakes import FakeTokens

ADDRESS = "203.0.113.7"


# --- RegisterUser --------------------------------------------------------------------------------


async def test_register_creates_a_user_with_the_policy_quota(world: World) -> None:
    account = await world.register_user("  Ann@Example.COM ", PASSWORD)
    user = account.user
    assert user.email == "ann@example.com"
    assert user.username == "ann"
    assert user.quota_limit_bytes == world.policy.default_quota_bytes
    assert user.created_at == world.clock.now()
    assert account.quota.used_bytes == 0 and account.quota.reserved_bytes == 0
    assert account.quota.available_bytes == world.policy.default_quota_bytes
    assert world.db.users[user.id].email == "ann@example.com"
    assert world.uow.commits == 1


async def test_register_stores_a_hash_not_the_password(world: World) -> None:
    user = (await world.register_user("ann@example.com", PASSWORD)).user
    stored = world.db.users[user.id].password_hash
    assert stored != PASSWORD
    assert await world.hasher.verify(stored, PASSWORD)


async def test_register_keeps_a_given_username_trimmed(world: World) -> None:
    user = (await world.register_user("ann@example.com", PASSWORD, "  Pianist Ann ")).user
    assert user.username == "Pianist Ann"


async def test_a_blank_username_falls_back_to_the_email(world: World) -> None:
    user = (await world.register_user("bob@example.com", PASSWORD, "   ")).user
    assert user.username == "bob"


@pytest.mark.parametrize("again", ["ann@example.com", "ANN@EXAMPLE.COM", " Ann@example.com "])
async def test_an_email_is_taken_regardless_of_case(world: World, again: str) -> None:
    await world.register_user("ann@example.com", PASSWORD)
    with pytest.raises(EmailTaken) as error:
        await world.register_user(again, "another password")
    assert error.value.code == "email_taken"
    assert error.value.kind is ErrorKind.CONFLICT
    assert len(world.db.users) == 1


@pytest.mark.parametrize(
    ("email", "password", "username"),
    [
        ("not-an-email", PASSWORD, None),
        ("ann@example.com", "short", None),
        ("ann@example.com", "", None),
        ("ann@example.com", PASSWORD, "u" * 65),
    ],
)
async def test_invalid_registrations_are_validation_errors_and_store_nothing(
    world: World, email: str, password: str, username: str | None
) -> None:
    with pytest.raises(ValidationError) as error:
        await world.register_user(email, password, username)
    assert error.value.code == "validation_error"
    assert world.db.users == {}
    assert world.uow.commits == 0


# --- LogIn ---------------------------------------------------------------------------------------


async def test_log_in_issues_a_token_for_the_user(world: World) -> None:
    user = await world.user("ann@example.com")
    token = await world.log_in("ann@example.com", PASSWORD, ADDRESS)
    assert world.tokens.verify(token.token) == user.id
    assert token.expires_in == FakeTokens.EXPIRES_IN


async def test_log_in_ignores_email_case_and_blanks(world: World) -> None:
    user = await world.user("ann@example.com")
    token = await world.log_in("  ANN@example.com ", PASSWORD, ADDRESS)
    assert world.tokens.verify(token.token) == user.id


@pytest.mark.parametrize(
    ("email", "password"), [("ann@example.com", "wrong password"), ("nobody@example.com", PASSWORD)]
)
async def test_wrong_password_or_unknown_email_are_invalid_credentials(world: World, email: str, password: str) -> None:
    await world.user("ann@example.com")
    with pytest.raises(InvalidCredentials) as error:
        await world.log_in(email, password, ADDRESS)
    assert error.value.code == "invalid_credentials"
    assert error.value.kind is ErrorKind.UNAUTHORIZED


async def fail_logins(world: World, count: int, email: str = "ann@example.com", address: str = ADDRESS) -> None:
    for _ in range(count):
        with pytest.raises(InvalidCredentials):
            await world.log_in(email, "wrong password", address)


async def test_repeated_failures_from_one_address_for_one_email_are_refused_even_with_the_right_password(
    world: World,
) -> None:
    await world.user("ann@example.com")
    await fail_logins(world, world.policy.login_failure_rule.limit)
    with pytest.raises(TooManyRequests) as error:
        await world.log_in("ann@example.com", PASSWORD, ADDRESS)
    assert error.value.code == "too_many_requests"
    assert error.value.kind is ErrorKind.RATE_LIMITED
    assert error.value.retry_after is not None
    assert 0 < error.value.retry_after <= world.policy.login_failure_rule.window_seconds


async def test_a_stranger_failing_from_elsewhere_cannot_lock_the_owner_out(world: World) -> None:
    await world.user("ann@example.com")
    await fail_logins(world, world.policy.login_failure_rule.limit, address="198.51.100.66")
    token = await world.log_in("ann@example.com", PASSWORD, ADDRESS)
    assert world.tokens.verify(token.token) is not None


async def test_past_the_email_limit_every_address_has_a_few_tries_and_the_owner_still_gets_in(world: World) -> None:
    """Strangers at many addresses exhaust the email's own limit: each address then has `login_guarded_failures`
    wrong passwords left for it, so the right password from an address that has not been failing still works."""
    await world.user("ann@example.com")
    policy = world.policy
    attackers = [f"198.51.100.{n}" for n in range(10)]
    for address in attackers[: policy.login_email_failure_rule.limit]:
        await fail_logins(world, 1, address=address)
    failed = policy.login_email_failure_rule.limit
    for address in attackers:  # more wrong passwords than each address may send
        for _ in range(policy.login_failure_rule.limit + policy.login_guarded_failures):
            try:
                await world.log_in("ann@example.com", "wrong password", address)
            except InvalidCredentials:
                failed += 1
            except TooManyRequests:
                pass
    assert failed == policy.login_email_failure_rule.limit + len(attackers) * policy.login_guarded_failures
    with pytest.raises(TooManyRequests) as refused:
        await world.log_in("ann@example.com", PASSWORD, attackers[0])
    assert refused.value.retry_after is not None
    assert 0 < refused.value.retry_after <= policy.login_email_failure_rule.window_seconds

    token = await world.log_in("ann@example.com", PASSWORD, ADDRESS)
    assert world.tokens.verify(token.token) is not None
    await fail_logins(world, policy.login_guarded_failures - 1)  # a typo or so is still forgiven
    assert (await world.log_in("ann@example.com", PASSWORD, ADDRESS)).token
    await fail_logins(world, 1)
    with pytest.raises(TooManyRequests):
        await world.log_in("ann@example.com", PASSWORD, ADDRESS)
    world.clock.advance(policy.login_email_failure_rule.window_seconds)
    assert (await world.log_in("ann@example.com", PASSWORD, attackers[0])).token


async def test_a_burst_of_concurrent_guesses_cannot_pass_the_limits_together(world: World) -> None:
    await world.user("ann@example.com")
    policy = world.policy
    addresses = [f"198.51.100.{n}" for n in range(4)]
    guesses = (world.log_in("ann@example.com", f"guess {n}", address) for address in addresses for n in range(3 * 6))

    outcomes = await asyncio.gather(*guesses, return_exceptions=True)

    failed = sum(isinstance(outcome, InvalidCredentials) for outcome in outcomes)
    assert sum(isinstance(outcome, TooManyRequests) for outcome in outcomes) == len(outcomes) - failed
    assert failed <= policy.login_email_failure_rule.limit + len(addresses) * policy.login_guarded_failures
    assert failed <= len(addresses) * (policy.login_failure_rule.limit + policy.login_guarded_failures)
    assert world.hasher.verified == failed


async def test_a_burst_from_one_address_stops_at_its_limit(world: World) -> None:
    await world.user("ann@example.com")
    limit = world.policy.login_failure_rule.limit
    guesses = (world.log_in("ann@example.com", f"guess {n}", ADDRESS) for n in range(3 * limit))

    outcomes = await asyncio.gather(*guesses, return_exceptions=True)

    assert sum(isinstance(outcome, InvalidCredentials) for outcome in outcomes) == limit
    assert sum(isinstance(outcome, TooManyRequests) for outcome in outcomes) == 2 * limit
    assert world.hasher.verified == limit


async def test_the_email_limits_ignore_case(world: World) -> None:
    await world.user("ann@example.com")
    limit = world.policy.login_failure_rule.limit
    for attempt in range(limit):
        email = "ANN@example.com" if attempt % 2 else "ann@EXAMPLE.com"
        await fail_logins(world, 1, email=email)
    with pytest.raises(TooManyRequests):
        await world.log_in("ann@example.com", PASSWORD, ADDRESS)


async def test_repeated_failures_from_one_address_are_refused_for_every_email(world: World) -> None:
    await world.user("ann@example.com")
    limit = world.policy.login_address_failure_rule.limit
    for attempt in range(limit):
        await fail_logins(world, 1, email=f"guess{attempt}@example.com")
    with pytest.raises(TooManyRequests) as error:
        await world.log_in("ann@example.com", PASSWORD, ADDRESS)
    assert error.value.retry_after is not None and error.value.retry_after > 0
    # another address may still log in to the same account
    token = await world.log_in("ann@example.com", PASSWORD, "192.0.2.1")
    assert world.tokens.verify(token.token) is not None


async def test_an_ipv6_client_counts_by_its_64_network(world: World) -> None:
    await world.user("ann@example.com")
    for host in range(world.policy.login_failure_rule.limit):
        await fail_logins(world, 1, address=f"2001:db8:1:2::{host + 1:x}")
    with pytest.raises(TooManyRequests):
        await world.log_in("ann@example.com", PASSWORD, "2001:db8:1:2:ffff::9")
    assert (await world.log_in("ann@example.com", PASSWORD, "2001:db8:1:3::1")).token
    assert (await world.log_in("ann@example.com", PASSWORD, "::ffff:203.0.113.9")).token


async def test_the_address_limit_can_be_set_apart_for_many_musicians_behind_one_address(world: World) -> None:
    """A school shares one address: its limit may be higher, while each email keeps its own."""
    world.policy = replace(world.policy, login_address_failure_rule=RateRule(limit=5, window_seconds=60))
    await world.user("ann@example.com")
    for attempt in range(4):
        await fail_logins(world, 1, email=f"pupil{attempt}@example.com")
    token = await world.log_in("ann@example.com", PASSWORD, ADDRESS)
    assert world.tokens.verify(token.token) is not None
    await fail_logins(world, 1, email="pupil4@example.com")
    with pytest.raises(TooManyRequests):
        await world.log_in("ann@example.com", PASSWORD, ADDRESS)
    await fail_logins(world, world.policy.login_failure_rule.limit, email="bob@example.com", address="192.0.2.9")
    with pytest.raises(TooManyRequests):
        await world.log_in("bob@example.com", PASSWORD, "192.0.2.9")


async def test_failures_below_the_limit_do_not_block(world: World) -> None:
    await world.user("ann@example.com")
    await fail_logins(world, world.policy.login_failure_rule.limit - 1)
    token = await world.log_in("ann@example.com", PASSWORD, ADDRESS)
    assert token.token


async def test_refused_attempts_do_not_check_the_password(world: World) -> None:
    await world.user("ann@example.com")
    await fail_logins(world, world.policy.login_failure_rule.limit)
    verified = world.hasher.verified
    with pytest.raises(TooManyRequests):
        await world.log_in("ann@example.com", PASSWORD, ADDRESS)
    assert world.hasher.verified == verified


async def test_successful_logins_are_never_counted(world: World) -> None:
    await world.user("ann@example.com")
    for _ in range(world.policy.login_failure_rule.limit * 3):
        await world.log_in("ann@example.com", PASSWORD, ADDRESS)
    await fail_logins(world, world.policy.login_failure_rule.limit - 1)
    assert (await world.log_in("ann@example.com", PASSWORD, ADDRESS)).token


async def test_the_block_lifts_when_the_window_passes(world: World) -> None:
    await world.user("ann@example.com")
    rule = world.policy.login_failure_rule
    await fail_logins(world, rule.limit)
    with pytest.raises(TooManyRequests) as error:
        await world.log_in("ann@example.com", PASSWORD, ADDRESS)
    assert error.value.retry_after == rule.window_seconds
    world.clock.advance(rule.window_seconds - 10)
    with pytest.raises(TooManyRequests) as error:
        await world.log_in("ann@example.com", PASSWORD, ADDRESS)
    assert error.value.retry_after == 10
    world.clock.advance(10)
    assert (await world.log_in("ann@example.com", PASSWORD, ADDRESS)).token


# --- Authenticate --------------------------------------------------------------------------------


async def test_authenticate_accepts_a_bearer_token(world: World) -> None:
    user = await world.user()
    token = world.tokens.issue(user.id).token
    assert await world.authenticate(f"Bearer {token}") == user.id
    assert await world.authenticate(f"bearer {token}") == user.id
    assert await world.authenticate(f"BEARER  {token} ") == user.id


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token token-for-x",
        "Bearer not-a-token",
        "Bearer token-for-",
    ],
)
async def test_authenticate_refuses_anything_else(world: World, header: str | None) -> None:
    with pytest.raises(NotAuthenticated) as error:
        await world.authenticate(header)
    assert error.value.code == "not_authenticated"
    assert error.value.kind is ErrorKind.UNAUTHORIZED


async def test_authenticate_refuses_a_revoked_token(world: World) -> None:
    token = world.tokens.issue(uuid4()).token
    world.tokens.revoked.add(token)
    with pytest.raises(NotAuthenticated):
        await world.authenticate(f"Bearer {token}")


# --- GetAccount ----------------------------------------------------------------------------------


async def test_get_account_reports_used_and_reserved_bytes(world: World) -> None:
    user = await world.user()
    await world.confirmed_upload(user, 3000)
    await world.pending_upload(user, 2000)
    account = await world.get_account(user.id)
    assert account.user.id == user.id
    quota = account.quota
    assert (quota.limit_bytes, quota.used_bytes, quota.reserved_bytes) == (world.policy.default_quota_bytes, 3000, 2000)
    assert quota.available_bytes == world.policy.default_quota_bytes - 5000


async def test_lapsed_reservations_are_not_reported(world: World) -> None:
    user = await world.user()
    await world.pending_upload(user, 2000)
    world.clock.advance(world.policy.reservation_ttl_seconds)
    assert (await world.get_account(user.id)).quota.reserved_bytes == 0


async def test_get_account_of_a_missing_user_is_not_authenticated(world: World) -> None:
    with pytest.raises(NotAuthenticated) as error:
        await world.get_account(uuid4())
    assert error.value.code == "not_authenticated"


async def test_an_unknown_email_costs_a_password_check_too(world: World) -> None:
    before = world.hasher.verified
    with pytest.raises(InvalidCredentials):
        await world.log_in("nobody@example.com", PASSWORD, ADDRESS)
    assert world.hasher.verified == before + 1


async def test_registrations_are_limited_per_client_address(world: World) -> None:
    limit = world.policy.register_rule.limit
    for number in range(limit):
        await world.register_user(f"user{number}@example.com", PASSWORD, None, "203.0.113.9")
    with pytest.raises(TooManyRequests) as refused:
        await world.register_user("one-more@example.com", PASSWORD, None, "203.0.113.9")
    assert refused.value.retry_after
    await world.register_user("elsewhere@example.com", PASSWORD, None, "198.51.100.1")
    assert len(world.db.users) == limit + 1
