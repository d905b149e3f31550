"""Tokens expire, web clients get CORS headers, and the server's own secrets stay its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import httpx
import pytest

from adapters.security.jwt_tokens import JwtTokenIssuer
from tests.integration.support.api import register
from tests.integration.support.server import Server, serve, signing_key

WEB_ORIGIN = "https://app.scoremate.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("security"), cors_allow_origins=WEB_ORIGIN) as running:
        yield running


async def test_an_expired_token_is_refused(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        user = await register(client)
        me = await user.get("/api/v1/auth/me")
        user_id = UUID(me.json()["id"])
        yesterday = JwtTokenIssuer(
            signing_key("tokens"), lifetime_seconds=3600, now=lambda: datetime.now(UTC) - timedelta(days=1)
        )
        expired = yesterday.issue(user_id).token
        fresh = JwtTokenIssuer(signing_key("tokens")).issue(user_id).token
        forged = JwtTokenIssuer("another secret that is long enough to sign").issue(user_id).token
        answers = {
            name: (await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})).status_code
            for name, token in {"expired": expired, "fresh": fresh, "forged": forged}.items()
        }
    assert answers == {"expired": 401, "fresh": 200, "forged": 401}


async def test_web_clients_of_the_configured_origin_get_cors_headers(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        preflight = await client.options(
            "/api/v1/scores",
            headers={
                "Origin": WEB_ORIGIN,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code in (200, 204)
        assert preflight.headers["access-control-allow-origin"] == WEB_ORIGIN
        stranger = await client.get("/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in stranger.headers


async def test_registrations_from_one_address_are_limited(tmp_path: Path) -> None:
    with serve(tmp_path, register_rate_limit="2/hour") as strict:
        async with httpx.AsyncClient(base_url=strict.base_url) as client:
            answers = [
                await client.post(
                    "/api/v1/auth/register", json={"email": f"r{n}@example.com", "password": "long enough"}
                )
                for n in range(3)
            ]
    assert [a.status_code for a in answers] == [201, 201, 429]
    assert answers[2].json()["code"] == "too_many_requests"
    assert int(answers[2].headers["retry-after"]) > 0
