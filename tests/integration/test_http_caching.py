"""What saves clients bytes: gzip above a size threshold, and ETag/If-None-Match (304) on the score and the library
page that clients poll, against `scoremate serve` on the embedded default."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.support import samples
from tests.integration.support.api import User
from tests.integration.support.server import Server, serve

ODE = samples.ode()
IDENTITY = {"Accept-Encoding": "identity"}
GZIP = {"Accept-Encoding": "gzip"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("caching-server"), upload_rate_limit="1000/minute") as running:
        yield running


def _raw(server: Server, path: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
    """A response and its body as sent (iter_raw leaves the body encoded)."""
    with httpx.Client(base_url=server.base_url, timeout=30) as client, client.stream("GET", path, headers=headers) as r:
        return r, b"".join(r.iter_raw())


# --- gzip ------------------------------------------------------------------------------------------------------


def test_a_large_response_is_gzipped_for_clients_that_accept_it_and_decodes_to_the_same_bytes(server: Server) -> None:
    plain, plain_body = _raw(server, "/schema/openapi.json", IDENTITY)
    packed, packed_body = _raw(server, "/schema/openapi.json", GZIP)
    assert plain.status_code == packed.status_code == 200
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in packed.headers["vary"].lower()
    assert int(packed.headers["content-length"]) == len(packed_body)
    assert len(packed_body) < len(plain_body) / 3
    assert gzip.decompress(packed_body) == plain_body


def test_a_small_response_is_sent_as_it_is(server: Server) -> None:
    response, body = _raw(server, "/health", GZIP)
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert json.loads(body)["status"] == "ok"


async def test_library_pages_are_gzipped_past_the_threshold(alice: User, client: httpx.AsyncClient) -> None:
    for n in range(4):
        await alice.create_score(ODE, title=f"Ode number {n} with a title long enough to pass the threshold " * 2)
    response = await client.get("/api/v1/scores", headers={**alice.headers, **GZIP})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert response.json()["total"] == 4  # httpx decodes it


# --- ETag and If-None-Match ------------------------------------------------------------------------------------


async def _get(user: User, path: str, params: dict[str, str] | None = None, *, if_none_match: str) -> httpx.Response:
    return await user.client.get(path, params=params, headers={**user.headers, "If-None-Match": if_none_match})


async def test_a_score_polled_with_its_etag_answers_304_until_it_changes(alice: User) -> None:
    score = await alice.create_score(ODE, title="Ode")
    path = f"/api/v1/scores/{score['id']}"
    await alice.wait_for_score(score["id"])
    first = await alice.get(path)
    assert first.status_code == 200
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and etag.endswith('"')

    unchanged = await _get(alice, path, if_none_match=etag)
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag
    assert "x-request-id" in unchanged.headers
    assert "content-type" not in unchanged.headers
    # Any of several tags, a strong form of the same tag, or `*` all match; another tag does not.
    for header in (f'W/"other", {etag}', etag.removeprefix("W/"), "*"):
        assert (await _get(alice, path, if_none_match=header)).status_code == 304, header
    stale = await _get(alice, path, if_none_match='W/"stale"')
    assert stale.status_code == 200
    assert stale.content == first.content, "the body of a tagged 200 is the body as it always was"
    assert stale.headers["etag"] == etag

    renamed = await alice.patch(path, json={"title": "Ode to Joy"})
    assert renamed.status_code == 200
    changed = await _get(alice, path, if_none_match=etag)
    assert changed.status_code == 200
    assert changed.json()["title"] == "Ode to Joy"
    assert changed.headers["etag"] != etag


async def test_the_library_page_has_an_etag_per_query_and_user(alice: User, bob: User) -> None:
    score = await alice.create_score(ODE, title="Ode")
    await alice.wait_for_score(score["id"])  # processing changes the page as it goes
    page = await alice.get("/api/v1/scores", params={"ordering": "title"})
    etag = page.headers["etag"]
    again = await _get(alice, "/api/v1/scores", params={"ordering": "title"}, if_none_match=etag)
    assert again.status_code == 304
    # Bob's library is another body, so the same tag is no match for him.
    bobs = await _get(bob, "/api/v1/scores", params={"ordering": "title"}, if_none_match=etag)
    assert bobs.status_code == 200
    await alice.create_score(ODE, title="Another")
    grown = await _get(alice, "/api/v1/scores", params={"ordering": "title"}, if_none_match=etag)
    assert grown.status_code == 200
    assert grown.json()["total"] == 2


async def test_errors_and_other_operations_carry_no_etag(alice: User, client: httpx.AsyncClient) -> None:
    missing = await _get(alice, "/api/v1/scores/00000000-0000-4000-8000-000000000000", if_none_match="*")
    assert missing.status_code == 404
    assert "etag" not in missing.headers
    unauthenticated = await client.get("/api/v1/scores", headers={"If-None-Match": "*"})
    assert unauthenticated.status_code == 401
    assert "etag" not in unauthenticated.headers
    assert "etag" not in (await alice.get("/api/v1/dashboard")).headers
