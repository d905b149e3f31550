"""Administration: ListUsers, GetUser, ChangeUser, CreateUser, GetSiteStats; deactivation, closed registration."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from application.policy import Policy
from domain.errors import (
    AccountDisabled,
    EmailTaken,
    ErrorKind,
    Forbidden,
    InvalidCredentials,
    NotAuthenticated,
    QuotaExceeded,
    RegistrationClosed,
    UserNotFound,
    ValidationError,
)
from domain.scores import ProcessingStatus
from domain.users import AccountChanges, User, apply_account_changes
from entrypoints.settings import Settings
from tests.unit.conftest import PASSWORD, World

ADDRESS = "203.0.113.7"


async def admin_of(world: World) -> User:
    admin = await world.user("admin@example.com")
    await world.change_user(admin.id, AccountChanges(is_admin=True), None)
    return world.db.users[admin.id]


# --- the rules ------------------------------------------------------------------------------------


def _user() -> User:
    return User(uuid4(), "a@example.com", "a", "hash", 1000, datetime(2026, 1, 1, tzinfo=UTC), is_admin=True)


def test_changes_apply_only_the_fields_given() -> None:
    user = _user()
    apply_account_changes(user, AccountChanges(quota_limit_bytes=0), None)
    assert (user.quota_limit_bytes, user.is_admin, user.is_active) == (0, True, True)
    apply_account_changes(user, AccountChanges(is_active=False, is_admin=False), None)
    assert (user.quota_limit_bytes, user.is_admin, user.is_active) == (0, False, False)


def test_a_negative_quota_is_refused() -> None:
    user = _user()
    with pytest.raises(ValidationError):
        apply_account_changes(user, AccountChanges(quota_limit_bytes=-1), None)
    assert user.quota_limit_bytes == 1000


@pytest.mark.parametrize("changes", [AccountChanges(is_admin=False), AccountChanges(is_active=False)])
def test_an_admin_cannot_demote_or_deactivate_themselves(changes: AccountChanges) -> None:
    user = _user()
    with pytest.raises(ValidationError):
        apply_account_changes(user, changes, acting_admin=user.id)
    assert user.is_admin and user.is_active
    apply_account_changes(user, changes, acting_admin=uuid4())  # another administrator may
    assert not (user.is_admin and user.is_active)


# --- who may ----------------------------------------------------------------------------------------


async def test_only_administrators_may_use_the_admin_use_cases(world: World) -> None:
    user = await world.user()
    with pytest.raises(Forbidden) as error:
        await world.list_users(None, 20, 0, user.id)
    assert error.value.kind is ErrorKind.FORBIDDEN and error.value.code == "forbidden"
    with pytest.raises(Forbidden):
        await world.get_user(user.id, user.id)
    with pytest.raises(Forbidden):
        await world.change_user(user.id, AccountChanges(is_admin=True), user.id)
    with pytest.raises(Forbidden):
        await world.get_site_stats(user.id)
    assert not world.db.users[user.id].is_admin


async def test_an_unknown_user_is_not_found(world: World) -> None:
    admin = await admin_of(world)
    with pytest.raises(UserNotFound):
        await world.get_user(uuid4(), admin.id)
    with pytest.raises(UserNotFound):
        await world.change_user(uuid4(), AccountChanges(is_active=False), admin.id)
    with pytest.raises(UserNotFound):
        await world.get_user.by_email("nobody@example.com", None)


# --- listing ----------------------------------------------------------------------------------------


async def test_list_finds_text_in_email_or_username_ignoring_case(world: World) -> None:
    admin = await admin_of(world)
    world.clock.advance(1)
    await world.register_user("clara@example.com", PASSWORD, username="Clara Schumann")
    world.clock.advance(1)
    await world.register_user("robert@example.com", PASSWORD, username="Robert")
    page = await world.list_users("SCHUMANN", 20, 0, admin.id)
    assert [a.user.email for a in page.items] == ["clara@example.com"] and page.total == 1
    page = await world.list_users("example.COM", 20, 0, admin.id)
    assert page.total == 3
    page = await world.list_users(None, 1, 1, admin.id)
    assert [a.user.email for a in page.items] == ["clara@example.com"] and page.total == 3


async def test_an_account_shows_its_quota_scores_and_trash(world: World) -> None:
    admin = await admin_of(world)
    user = await world.user()
    kept = await world.score(user, size=1000)
    trashed = await world.score(user, size=3000)
    await world.pending_upload(user, 500)
    stored = world.stored_score(trashed.id)
    world.put_score(replace(stored, deleted_at=world.clock.now()))  # as the trash does
    account = await world.get_user(user.id, admin.id)
    assert account.score_count == 1
    assert account.trash_bytes == 3000
    assert (account.quota.used_bytes, account.quota.reserved_bytes) == (4000, 500)
    assert account.quota.limit_bytes == world.policy.default_quota_bytes
    [listed] = (await world.list_users(user.email, 20, 0, admin.id)).items
    assert (listed.score_count, listed.trash_bytes, listed.quota) == (1, 3000, account.quota)
    assert kept.id in world.db.scores


async def test_site_stats_count_every_user(world: World) -> None:
    admin = await admin_of(world)
    user = await world.user()
    await world.score(user, size=1000)
    trashed = await world.score(user, size=2000)
    await world.pending_upload(user, 700)
    world.put_score(replace(world.stored_score(trashed.id), deleted_at=world.clock.now()))
    await world.change_user(user.id, AccountChanges(is_active=False), admin.id)
    stats = await world.get_site_stats(admin.id)
    assert (stats.user_count, stats.active_user_count) == (2, 1)
    assert (stats.score_count, stats.trash_score_count) == (1, 1)
    assert (stats.stored_bytes, stats.reserved_bytes) == (3000, 700)
    assert stats.processing_counts[ProcessingStatus.PENDING] == 1


# --- changing ---------------------------------------------------------------------------------------


async def test_a_quota_below_usage_refuses_uploads_and_deletes_nothing(world: World) -> None:
    admin = await admin_of(world)
    user = await world.user()
    score = await world.score(user, size=5000)
    account = await world.change_user(user.id, AccountChanges(quota_limit_bytes=1000), admin.id)
    assert account.quota.limit_bytes == 1000 and account.quota.used_bytes == 5000
    assert account.quota.available_bytes <= 0
    with pytest.raises(QuotaExceeded):
        await world.request_upload_url(user.id, "more.pdf", "application/pdf", 10)
    assert score.id in world.db.scores
    assert (await world.usage(user.id))[0] == 5000
    await world.change_user(user.id, AccountChanges(quota_limit_bytes=10_000), admin.id)
    assert await world.request_upload_url(user.id, "more.pdf", "application/pdf", 10)


async def test_an_admin_may_not_demote_themselves(world: World) -> None:
    admin = await admin_of(world)
    with pytest.raises(ValidationError):
        await world.change_user(admin.id, AccountChanges(is_admin=False), admin.id)
    with pytest.raises(ValidationError):
        await world.change_user(admin.id, AccountChanges(is_active=False), admin.id)
    assert world.db.users[admin.id].is_admin and world.db.users[admin.id].is_active


async def test_promote_and_demote_another(world: World) -> None:
    admin = await admin_of(world)
    user = await world.user()
    assert (await world.change_user(user.id, AccountChanges(is_admin=True), admin.id)).user.is_admin
    await world.list_users(None, 20, 0, user.id)  # an administrator now
    assert not (await world.change_user(user.id, AccountChanges(is_admin=False), admin.id)).user.is_admin
    with pytest.raises(Forbidden):
        await world.list_users(None, 20, 0, user.id)


# --- deactivation -----------------------------------------------------------------------------------


async def test_a_deactivated_user_cannot_log_in_only_with_the_right_password(world: World) -> None:
    admin = await admin_of(world)
    user = await world.user("ann@example.com")
    await world.change_user(user.id, AccountChanges(is_active=False), admin.id)
    with pytest.raises(InvalidCredentials):  # a guesser learns nothing of the account
        await world.log_in("ann@example.com", "wrong password", ADDRESS)
    with pytest.raises(AccountDisabled) as error:
        await world.log_in("ann@example.com", PASSWORD, ADDRESS)
    assert error.value.kind is ErrorKind.UNAUTHORIZED and error.value.code == "account_disabled"
    await world.change_user(user.id, AccountChanges(is_active=True), admin.id)
    assert (await world.log_in("ann@example.com", PASSWORD, ADDRESS)).token


async def test_the_deactivating_process_refuses_old_tokens_at_once(world: World) -> None:
    admin = await admin_of(world)
    user = await world.user()
    token = f"Bearer {world.tokens.issue(user.id).token}"
    assert await world.authenticate(token) == user.id
    await world.change_user(user.id, AccountChanges(is_active=False), admin.id)
    with pytest.raises(NotAuthenticated):
        await world.authenticate(token)
    await world.change_user(user.id, AccountChanges(is_active=True), admin.id)
    assert await world.authenticate(token) == user.id


async def test_another_process_refuses_old_tokens_within_the_refresh_interval(world: World) -> None:
    user = await world.user()
    token = f"Bearer {world.tokens.issue(user.id).token}"
    assert await world.authenticate(token) == user.id  # this process has read the deactivated accounts
    reads = world.uow.autocommit_transactions
    deactivated = copy.deepcopy(world.db.users[user.id])
    deactivated.is_active = False
    world.db.users[user.id] = deactivated  # another process deactivates the account
    world.clock.advance(world.policy.account_status_refresh_seconds - 1)
    assert await world.authenticate(token) == user.id  # not read again yet: no database read per request
    assert world.uow.autocommit_transactions == reads
    world.clock.advance(1)
    with pytest.raises(NotAuthenticated):
        await world.authenticate(token)
    assert world.uow.autocommit_transactions == reads + 1
    world.db.users[user.id] = replace(deactivated, is_active=True)
    world.clock.advance(world.policy.account_status_refresh_seconds)
    assert await world.authenticate(token) == user.id


def test_the_refresh_interval_is_within_the_contract_bound() -> None:
    assert Policy().account_status_refresh_seconds <= 30
    assert Settings().account_status_refresh_seconds <= 30


# --- creating and registration -----------------------------------------------------------------------


async def test_create_user_makes_an_admin_with_a_quota(world: World) -> None:
    account = await world.create_user(" Boss@Example.com ", PASSWORD, is_admin=True, quota_limit_bytes=42)
    stored = world.db.users[account.user.id]
    assert (stored.email, stored.is_admin, stored.is_active, stored.quota_limit_bytes) == (
        "boss@example.com",
        True,
        True,
        42,
    )
    assert await world.hasher.verify(stored.password_hash, PASSWORD)
    with pytest.raises(EmailTaken):
        await world.create_user("boss@example.com", PASSWORD)
    with pytest.raises(ValidationError):
        await world.create_user("short@example.com", "short")
    with pytest.raises(ValidationError):
        await world.create_user("negative@example.com", PASSWORD, quota_limit_bytes=-1)


async def test_closed_registration_refuses_but_create_user_works(world: World) -> None:
    world.policy = replace(world.policy, registration_open=False)
    with pytest.raises(RegistrationClosed) as error:
        await world.register_user("ann@example.com", PASSWORD)
    assert error.value.kind is ErrorKind.FORBIDDEN and error.value.code == "registration_closed"
    assert not world.db.users
    assert (await world.create_user("ann@example.com", PASSWORD)).user.email == "ann@example.com"
