"""An HTTP client of the module's `server` fixture, and two freshly registered musicians per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.integration.support.api import User, register
from tests.integration.support.server import Server

__all__ = ["alice", "bob", "client"]


@pytest.fixture(scope="module")
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        yield http


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> User:
    return await register(client)


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> User:
    return await register(client)
