"""Duplicates over HTTP against `scoremate serve`, on SQLite and on Postgres: the server's checksum of each stored
PDF, upload-url's duplicate_score refusal, GET /duplicates and the housekeeping backfill of checksums.

One server per backend for the module; every test registers its own users. The trash is not this module's: a
trashed score is made by setting `deleted_at` in the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.sqlalchemy.models import ScoreRow
from tests.integration.support.api import User, corpus_file, register
from tests.integration.support.backends import serve_on
from tests.integration.support.server import Server

API = "/api/v1"
ODE = corpus_file("engraved_ode_to_joy_a4_1p.pdf")
LANDSCAPE = corpus_file("engraved_etude_a4_landscape_4p.pdf")
BACH = corpus_file("real_lilypond_bach_bwv610_2p.pdf")
TRUNCATED = corpus_file("bad_truncated_half.pdf")


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    backend: str = request.param
    data_dir = tmp_path_factory.mktemp(f"duplicates-{backend}")
    # Housekeeping every second, so that the backfill's run comes soon.
    settings: dict[str, object] = {"upload_rate_limit": "10000/minute", "maintenance_interval_seconds": 1}
    async with serve_on(backend, data_dir, **settings) as running:
        yield running


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        yield http


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def processed(user: User, data: bytes, title: str) -> dict[str, Any]:
    score = await user.create_score(data, title=title)
    return await user.wait_for_score(score["id"])


async def set_scores(server: Server, title: str, **values: Any) -> None:
    """Change the user's scores of that (unique) title straight in the server's database."""
    url = server.env.get("SCOREMATE_DATABASE_URL") or f"sqlite+aiosqlite:///{server.data_dir / 'scoremate.db'}"
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(update(ScoreRow).where(ScoreRow.title == title).values(**values))
    finally:
        await engine.dispose()


async def ask_upload(user: User, data: bytes, **extra: Any) -> httpx.Response:
    body = {"filename": "copy.pdf", "content_type": "application/pdf", "size_bytes": len(data), **extra}
    return await user.post(f"{API}/files/upload-url", json=body)


def unique(title: str) -> str:
    return f"{title} {time.monotonic_ns()}"


# --- the server's checksum -----------------------------------------------------------------------


async def test_processing_stores_the_sha256_of_the_real_pdf(client: httpx.AsyncClient) -> None:
    user = await register(client)
    created = await user.create_score(ODE, title="Ode")
    assert created["checksum_sha256"] is None  # null until processed
    done = await user.wait_for_score(created["id"], processing_status="ready")
    assert done["checksum_sha256"] == sha256(ODE)
    listed = (await user.get(f"{API}/scores")).json()["items"]
    assert [score["checksum_sha256"] for score in listed] == [sha256(ODE)]


async def test_a_pdf_that_fails_processing_gets_its_checksum_too(client: httpx.AsyncClient) -> None:
    user = await register(client)
    score = await user.create_score(TRUNCATED, title="Half")
    failed = await user.wait_for_score(score["id"], processing_status="failed")
    assert failed["checksum_sha256"] == sha256(TRUNCATED)


# --- upload-url's refusal ------------------------------------------------------------------------


async def test_upload_url_refuses_a_file_the_user_has_and_reserves_nothing(client: httpx.AsyncClient) -> None:
    user = await register(client)
    score = await processed(user, ODE, "Ode")
    quota = await user.quota()
    for given in (sha256(ODE), sha256(ODE).upper()):
        refused = await ask_upload(user, ODE, sha256=given)
        assert refused.status_code == 409, refused.text
        assert refused.json() == {
            "status_code": 409,
            "code": "duplicate_score",
            "detail": refused.json()["detail"],
            "score_id": score["id"],
            "in_trash": False,
        }
    assert await user.quota() == quota

    allowed = await ask_upload(user, ODE, sha256=sha256(ODE), allow_duplicate=True)
    assert allowed.status_code == 201, allowed.text
    assert (await user.quota())["reserved_bytes"] == quota["reserved_bytes"] + len(ODE)
    assert (await ask_upload(user, BACH, sha256=sha256(BACH))).status_code == 201
    assert (await ask_upload(user, ODE)).status_code == 201  # no sha256: no check


async def test_another_users_copy_is_no_duplicate(client: httpx.AsyncClient) -> None:
    ann, bob = await register(client), await register(client)
    await processed(ann, LANDSCAPE, "Landscape")
    response = await ask_upload(bob, LANDSCAPE, sha256=sha256(LANDSCAPE))
    assert response.status_code == 201, response.text


async def test_a_copy_in_the_trash_is_refused_and_says_so(server: Server, client: httpx.AsyncClient) -> None:
    user = await register(client)
    title = unique("Trashed")
    score = await processed(user, BACH, title)
    await set_scores(server, title, deleted_at=datetime.now(UTC))
    refused = await ask_upload(user, BACH, sha256=sha256(BACH))
    assert refused.status_code == 409, refused.text
    assert (refused.json()["score_id"], refused.json()["in_trash"]) == (score["id"], True)


@pytest.mark.parametrize("bad", ["abc", "g" * 64, "a" * 65, 42])
async def test_a_sha256_that_is_not_64_hex_digits_is_a_validation_error(client: httpx.AsyncClient, bad: Any) -> None:
    user = await register(client)
    response = await ask_upload(user, ODE, sha256=bad)
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert (await user.quota())["reserved_bytes"] == 0


# --- GET /duplicates -----------------------------------------------------------------------------


async def test_duplicates_lists_groups_of_the_same_file(server: Server, client: httpx.AsyncClient) -> None:
    user, other = await register(client), await register(client)
    first = await processed(user, LANDSCAPE, "Landscape 1")
    bach = [await processed(user, BACH, f"Bach {n}") for n in range(3)]
    second = await processed(user, LANDSCAPE, "Landscape 2")
    await processed(user, ODE, "Ode alone")
    trashed_title = unique("Ode trashed")
    await processed(user, ODE, trashed_title)
    await set_scores(server, trashed_title, deleted_at=datetime.now(UTC))  # one Ode left outside the trash
    await processed(other, BACH, "Other's Bach")

    response = await user.get(f"{API}/duplicates")
    assert response.status_code == 200, response.text
    page = response.json()
    assert (page["total"], page["limit"], page["offset"]) == (2, 20, 0)
    groups = page["items"]
    assert [group["checksum_sha256"] for group in groups] == [sha256(LANDSCAPE), sha256(BACH)]
    assert [group["size_bytes"] for group in groups] == [len(LANDSCAPE), len(BACH)]
    assert [[score["id"] for score in group["scores"]] for group in groups] == [
        [first["id"], second["id"]],
        [score["id"] for score in bach],
    ]
    assert groups[0]["scores"][0]["title"] == "Landscape 1"

    second_page = (await user.get(f"{API}/duplicates", params={"limit": 1, "offset": 1})).json()
    assert second_page["total"] == 2
    assert [group["checksum_sha256"] for group in second_page["items"]] == [sha256(BACH)]
    past_the_end = (await user.get(f"{API}/duplicates/", params={"offset": 5})).json()
    assert (past_the_end["items"], past_the_end["total"]) == ([], 2)
    assert (await other.get(f"{API}/duplicates")).json()["total"] == 0


# --- the backfill --------------------------------------------------------------------------------


async def test_housekeeping_backfills_checksums_of_older_scores(server: Server, client: httpx.AsyncClient) -> None:
    user = await register(client)
    title = unique("Old")
    score = await processed(user, ODE, title)
    await set_scores(server, title, checksum_sha256=None)
    deadline = time.monotonic() + 30
    while (current := (await user.get(f"{API}/scores/{score['id']}")).json())["checksum_sha256"] is None:
        assert time.monotonic() < deadline, "the checksum was not backfilled"
        await asyncio.sleep(0.2)
    assert current["checksum_sha256"] == sha256(ODE)
