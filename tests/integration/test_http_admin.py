"""Administration over HTTP against `scoremate serve`, and `scoremate users`, on SQLite and on Postgres.

One server per backend for the module; administrators are made with the real command line, on the server's own
database, while the server runs.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.support import samples
from tests.integration.support.api import User, expect_error, register
from tests.integration.support.backends import migrate_with_cli, postgres_database, serve_on
from tests.integration.support.server import Server, scoremate_env, serve

API = "/api/v1"
PASSWORD = "correct horse battery"
ODE = samples.ode()
REFRESH_SECONDS = 1  # SCOREMATE_ACCOUNT_STATUS_REFRESH_SECONDS of the servers here


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    backend: str = request.param
    data_dir = tmp_path_factory.mktemp(f"admin-{backend}")
    async with serve_on(
        backend, data_dir, upload_rate_limit="10000/minute", account_status_refresh_seconds=REFRESH_SECONDS
    ) as running:
        yield running


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        yield client


def scoremate_users(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The real command line, `python -m entrypoints.cli users ...`, as a separate process."""
    return subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "users", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def users_command(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(scoremate_users, env, *args, stdin=stdin)


async def new_admin(server: Server, client: httpx.AsyncClient) -> User:
    admin = await register(client)
    promoted = await users_command(server.env, "promote", admin.email)
    assert promoted.returncode == 0, promoted.stderr
    return admin


async def user_id(user: User) -> str:
    me = await user.get(f"{API}/auth/me")
    assert me.status_code == 200, me.text
    identifier: str = me.json()["id"]
    return identifier


async def managed(admin: User, target: str) -> dict[str, Any]:
    response = await admin.get(f"{API}/admin/users/{target}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- who may ----------------------------------------------------------------------------------------


async def test_me_shows_the_flags_and_admin_endpoints_refuse_other_users(
    server: Server, client: httpx.AsyncClient
) -> None:
    user = await register(client)
    me = (await user.get(f"{API}/auth/me")).json()
    assert (me["is_admin"], me["is_active"]) == (False, True)
    target = me["id"]
    expect_error(await user.get(f"{API}/admin/users"), 403, "forbidden")
    expect_error(await user.get(f"{API}/admin/users/{target}"), 403, "forbidden")
    expect_error(await user.patch(f"{API}/admin/users/{target}", json={"is_admin": True}), 403, "forbidden")
    expect_error(await user.get(f"{API}/admin/stats"), 403, "forbidden")
    expect_error(await client.get(f"{API}/admin/stats"), 401, "not_authenticated")
    assert (await user.get(f"{API}/auth/me")).json()["is_admin"] is False

    admin = await new_admin(server, client)
    assert (await admin.get(f"{API}/auth/me")).json()["is_admin"] is True
    assert (await admin.get(f"{API}/admin/stats")).status_code == 200


# --- reading ----------------------------------------------------------------------------------------


async def test_list_search_and_get(server: Server, client: httpx.AsyncClient) -> None:
    admin = await new_admin(server, client)
    marker = uuid.uuid4().hex[:10]
    email = f"Clara.{marker}@example.com"
    registered = await client.post(
        f"{API}/auth/register", json={"email": email, "password": PASSWORD, "username": f"Clara {marker.upper()}"}
    )
    assert registered.status_code == 201, registered.text
    clara_id = registered.json()["id"]

    for q in (marker.upper(), f"clara {marker}", f"CLARA.{marker}@EXAMPLE"):
        page = (await admin.get(f"{API}/admin/users", params={"q": q})).json()
        assert [item["id"] for item in page["items"]] == [clara_id], (q, page)
        assert page["total"] == 1
    item = page["items"][0]
    assert item["email"] == email.lower() and item["username"] == f"Clara {marker.upper()}"
    assert (item["is_admin"], item["is_active"], item["score_count"], item["trash_bytes"]) == (False, True, 0, 0)
    assert item["quota"] == {
        "limit_bytes": 1024**3,
        "used_bytes": 0,
        "reserved_bytes": 0,
        "available_bytes": 1024**3,
    }
    assert (await admin.get(f"{API}/admin/users", params={"q": "%"})).json()["total"] == 0  # no wildcard

    everyone = (await admin.get(f"{API}/admin/users", params={"limit": 1, "offset": 1})).json()
    assert len(everyone["items"]) == 1 and everyone["total"] >= 2 and (everyone["limit"], everyone["offset"]) == (1, 1)
    assert (await admin.get(f"{API}/admin/users/{clara_id}")).json() == item

    expect_error(await admin.get(f"{API}/admin/users/{uuid.uuid4()}"), 404, "user_not_found")
    expect_error(
        await admin.patch(f"{API}/admin/users/{uuid.uuid4()}", json={"is_active": False}), 404, "user_not_found"
    )
    expect_error(await admin.get(f"{API}/admin/users", params={"limit": 0}), 400, "validation_error")


async def test_stats_count_users_scores_and_bytes(server: Server, client: httpx.AsyncClient) -> None:
    admin = await new_admin(server, client)
    before = (await admin.get(f"{API}/admin/stats")).json()
    user = await register(client)
    await user.create_score(ODE, title="Ode")
    await user.request_upload(ODE)
    after = (await admin.get(f"{API}/admin/stats")).json()
    assert after["user_count"] == before["user_count"] + 1
    assert after["active_user_count"] == before["active_user_count"] + 1
    assert after["score_count"] == before["score_count"] + 1
    assert after["trash_score_count"] == before["trash_score_count"]
    assert after["stored_bytes"] == before["stored_bytes"] + len(ODE)
    assert after["reserved_bytes"] == before["reserved_bytes"] + len(ODE)
    assert set(after["processing"]) == {"pending", "processing", "failed"}


# --- changing ---------------------------------------------------------------------------------------


async def test_patch_refuses_bad_changes(server: Server, client: httpx.AsyncClient) -> None:
    admin = await new_admin(server, client)
    own = await user_id(admin)
    other = await register(client)
    expect_error(
        await admin.patch(f"{API}/admin/users/{await user_id(other)}", json={"quota_limit_bytes": -1}),
        400,
        "validation_error",
    )
    expect_error(await admin.patch(f"{API}/admin/users/{own}", json={"is_admin": False}), 400, "validation_error")
    expect_error(await admin.patch(f"{API}/admin/users/{own}", json={"is_active": False}), 400, "validation_error")
    expect_error(await admin.patch(f"{API}/admin/users/{own}", json={"is_active": None}), 400, "validation_error")
    me = (await admin.get(f"{API}/auth/me")).json()
    assert (me["is_admin"], me["is_active"]) == (True, True)
    assert (await other.quota())["limit_bytes"] == 1024**3


async def test_promote_and_demote_over_http(server: Server, client: httpx.AsyncClient) -> None:
    admin = await new_admin(server, client)
    other = await register(client)
    other_id = await user_id(other)
    promoted = await admin.patch(f"{API}/admin/users/{other_id}", json={"is_admin": True})
    assert promoted.status_code == 200 and promoted.json()["is_admin"] is True
    assert (await other.get(f"{API}/admin/stats")).status_code == 200
    assert (await admin.patch(f"{API}/admin/users/{other_id}", json={"is_admin": False})).json()["is_admin"] is False
    expect_error(await other.get(f"{API}/admin/stats"), 403, "forbidden")


async def test_a_quota_below_usage_refuses_uploads_and_deletes_nothing(
    server: Server, client: httpx.AsyncClient
) -> None:
    admin = await new_admin(server, client)
    user = await register(client)
    score = await user.create_score(ODE, title="Ode")
    target = await user_id(user)
    lowered = await admin.patch(f"{API}/admin/users/{target}", json={"quota_limit_bytes": len(ODE) // 2})
    assert lowered.status_code == 200, lowered.text
    body = lowered.json()
    assert body["quota"]["limit_bytes"] == len(ODE) // 2 and body["quota"]["used_bytes"] == len(ODE)
    assert body["score_count"] == 1
    response = await user.post(
        f"{API}/files/upload-url", json={"filename": "more.pdf", "content_type": "application/pdf", "size_bytes": 1}
    )
    expect_error(response, 409, "quota_exceeded")
    assert (await user.get(f"{API}/scores/{score['id']}")).status_code == 200
    download = await user.get(f"{API}/files/download-url", params={"score_id": score["id"], "file_type": "original"})
    assert download.status_code == 200, download.text
    assert (await user.quota())["used_bytes"] == len(ODE)
    raised = await admin.patch(f"{API}/admin/users/{target}", json={"quota_limit_bytes": 10 * len(ODE)})
    assert raised.json()["quota"]["limit_bytes"] == 10 * len(ODE)
    assert (await user.request_upload(ODE))["upload_id"]


# --- deactivation -----------------------------------------------------------------------------------


async def test_deactivation_over_http_refuses_at_once_and_login_says_disabled(
    server: Server, client: httpx.AsyncClient
) -> None:
    admin = await new_admin(server, client)
    user = await register(client)
    score = await user.create_score(ODE, title="Kept")
    target = await user_id(user)
    deactivated = await admin.patch(f"{API}/admin/users/{target}", json={"is_active": False})
    assert deactivated.status_code == 200 and deactivated.json()["is_active"] is False
    expect_error(await user.get(f"{API}/auth/me"), 401, "not_authenticated")  # this process knows at once
    wrong = await client.post(f"{API}/auth/login", json={"email": user.email, "password": "wrong password!"})
    expect_error(wrong, 401, "invalid_credentials")
    right = await client.post(f"{API}/auth/login", json={"email": user.email, "password": PASSWORD})
    expect_error(right, 401, "account_disabled")
    assert (await managed(admin, target))["score_count"] == 1  # nothing of theirs is deleted

    assert (await admin.patch(f"{API}/admin/users/{target}", json={"is_active": True})).json()["is_active"] is True
    assert (await user.get(f"{API}/scores/{score['id']}")).status_code == 200  # the old token works again
    assert (await client.post(f"{API}/auth/login", json={"email": user.email, "password": PASSWORD})).status_code == 200


async def _status_within(user: User, status: int, bound: float) -> float:
    """Seconds until /auth/me answers `status`; fails past `bound`."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while (response := await user.get(f"{API}/auth/me")).status_code != status:
        assert loop.time() - start < bound, response.text
        await asyncio.sleep(0.1)
    return loop.time() - start


async def test_deactivation_by_another_process_refuses_old_tokens_within_the_refresh(
    server: Server, client: httpx.AsyncClient
) -> None:
    user = await register(client)
    assert (await user.get(f"{API}/auth/me")).status_code == 200
    disabled = await users_command(server.env, "disable", user.email)
    assert disabled.returncode == 0, disabled.stderr
    # The server reads the deactivated accounts every REFRESH_SECONDS: the token is refused within that (plus the
    # time of a request), not only after a new login.
    await _status_within(user, 401, REFRESH_SECONDS + 5)
    enabled = await users_command(server.env, "enable", user.email)
    assert enabled.returncode == 0, enabled.stderr
    await _status_within(user, 200, REFRESH_SECONDS + 5)


# --- registration closed ----------------------------------------------------------------------------


async def test_closed_registration_refuses_and_the_cli_creates_accounts(tmp_path: Path) -> None:
    with serve(tmp_path, registration="closed") as running:
        async with httpx.AsyncClient(base_url=running.base_url, timeout=30) as client:
            response = await client.post(
                f"{API}/auth/register", json={"email": "ann@example.com", "password": PASSWORD}
            )
            expect_error(response, 403, "registration_closed")
            created = await users_command(running.env, "create", "ann@example.com", "--password-stdin", stdin=PASSWORD)
            assert created.returncode == 0, created.stderr
            login = await client.post(f"{API}/auth/login", json={"email": "ann@example.com", "password": PASSWORD})
            assert login.status_code == 200, login.text


# --- the command line -------------------------------------------------------------------------------


async def _cli_exit_statuses(env: dict[str, str]) -> None:
    created = await users_command(
        env, "create", "Boss@Example.com", "--admin", "--quota", "5000", "--password-stdin", stdin=PASSWORD + "\n"
    )
    assert created.returncode == 0, created.stderr
    assert "boss@example.com" in created.stdout

    taken = await users_command(env, "create", "boss@example.com", "--password-stdin", stdin=PASSWORD)
    assert taken.returncode == 1 and len(taken.stderr.strip().splitlines()) == 1, taken.stderr
    assert "already exists" in taken.stderr
    short = await users_command(env, "create", "new@example.com", "--password-stdin", stdin="short")
    assert short.returncode == 1 and "at least 8" in short.stderr, short.stderr
    unknown = await users_command(env, "disable", "nobody@example.com")
    assert unknown.returncode == 1 and "nobody@example.com" in unknown.stderr, unknown.stderr
    negative = await users_command(env, "set-quota", "boss@example.com", "--", "-1")
    assert negative.returncode == 1, negative.stderr
    for bad_usage in (("set-quota", "boss@example.com", "lots"), ("frobnicate",), ("create",)):
        refused = await users_command(env, *bad_usage)
        assert refused.returncode == 2, (bad_usage, refused.stderr)

    for action in ("set-quota", "disable", "enable", "demote", "promote"):
        args = ("boss@example.com", "1234") if action == "set-quota" else ("boss@example.com",)
        done = await users_command(env, action, *args)
        assert done.returncode == 0, (action, done.stderr)
    await users_command(env, "disable", "boss@example.com")
    listed = await users_command(env, "list")
    assert listed.returncode == 0, listed.stderr
    [header, row] = listed.stdout.strip().splitlines()
    assert header.split("\t")[:5] == ["email", "username", "admin", "active", "quota_bytes"]
    assert row.split("\t")[:5] == ["boss@example.com", "boss", "yes", "no", "1234"]


async def test_cli_on_sqlite(tmp_path: Path) -> None:
    env = scoremate_env(tmp_path)  # a fresh embedded database: the command migrates it, as serve would
    await _cli_exit_statuses(env)
    with serve(tmp_path) as running:  # and the server sees what it wrote
        async with httpx.AsyncClient(base_url=running.base_url, timeout=30) as client:
            login = await client.post(f"{API}/auth/login", json={"email": "boss@example.com", "password": PASSWORD})
            expect_error(login, 401, "account_disabled")


async def test_cli_on_postgres(tmp_path: Path) -> None:
    async with postgres_database("admin_cli") as (_, url):
        env = scoremate_env(tmp_path, database_url=url)
        await migrate_with_cli(env)
        await _cli_exit_statuses(env)
