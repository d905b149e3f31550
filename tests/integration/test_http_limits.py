"""Request body limits against `scoremate serve` on its defaults: every JSON endpoint refuses a body past
SCOREMATE_MAX_REQUEST_BODY_BYTES (1 MiB) with 413 request_too_large, whether the body announces its length or is
streamed; bodies up to the limit pass; bytes that are not UTF-8 are a 400; file uploads are not bound by it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.integration.support import samples
from tests.integration.support.api import User
from tests.integration.support.server import Server, serve

API = "/api/v1"
LIMIT = 1024 * 1024  # the default of SCOREMATE_MAX_REQUEST_BODY_BYTES
PUBLIC = {"register", "login"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("limits-server")) as running:
        yield running


def padded(size: int, **fields: Any) -> bytes:
    """A JSON object of exactly `size` bytes: the given fields plus a filler string."""
    body = json.dumps({**fields, "filler": ""}).encode()
    return json.dumps({**fields, "filler": "x" * (size - len(body))}).encode()


def json_body_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path with ids filled in, operation) of every operation that takes a JSON body."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "requestBody" in operation:
                assert "application/json" in operation["requestBody"]["content"], path
                concrete = path
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "path":
                        concrete = concrete.replace("{" + parameter["name"] + "}", str(uuid.uuid4()))
                found.append((method.upper(), concrete, operation))
    return found


async def test_every_json_endpoint_refuses_a_body_past_the_limit_with_413(
    client: httpx.AsyncClient, alice: User
) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    operations = json_body_operations(document)
    assert len(operations) == 13
    too_large = padded(LIMIT + 1)
    for method, path, operation in operations:
        assert "413" in operation["responses"], f"{method} {path}"
        headers = {"Content-Type": "application/json"}
        if operation["operationId"] not in PUBLIC:
            headers.update(alice.headers)
        response = await client.request(method, path, content=too_large, headers=headers)
        assert response.status_code == 413, f"{method} {path}: {response.text}"
        body = response.json()
        assert body["status_code"] == 413, f"{method} {path}"
        assert body["code"] == "request_too_large", f"{method} {path}"
        assert str(LIMIT) in body["detail"], body


async def test_a_streamed_body_without_length_is_cut_at_the_limit(client: httpx.AsyncClient, alice: User) -> None:
    too_large = padded(LIMIT + 1, name="Streamed")

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(too_large), 64 * 1024):
            yield too_large[start : start + 64 * 1024]

    response = await client.post(
        f"{API}/setlists", content=chunks(), headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "request_too_large"


async def test_a_body_of_exactly_the_limit_is_read(client: httpx.AsyncClient, alice: User) -> None:
    # The filler is a field the endpoint ignores: the body is read whole and the setlist created.
    response = await client.post(
        f"{API}/setlists",
        content=padded(LIMIT, name="At the limit"),
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "At the limit"


async def test_a_body_that_is_not_utf8_is_a_400(client: httpx.AsyncClient, alice: User) -> None:
    for body in (b'{"name": "caf\xe9"}', b'{"name": "\xff\xfe"}', b"\xc3("):
        response = await client.post(
            f"{API}/setlists", content=body, headers={**alice.headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "validation_error"


async def test_text_with_a_nul_character_is_a_400(client: httpx.AsyncClient, alice: User) -> None:
    created = await alice.post(f"{API}/setlists", json={"name": "a\u0000b"})
    assert created.status_code == 400, created.text
    assert created.json()["code"] == "validation_error"
    searched = await alice.get(f"{API}/scores", params={"q": "a\u0000b"})
    assert searched.status_code == 400, searched.text
    too_far = await alice.get(f"{API}/scores", params={"offset": 10**20})
    assert too_far.status_code == 400, too_far.text


async def test_file_uploads_to_storage_are_not_bound_by_the_json_limit(alice: User) -> None:
    scanned = samples.scanned()
    assert len(scanned) > LIMIT
    ticket = await alice.request_upload(scanned, "scanned.pdf")
    stored = await alice.send_file(ticket, scanned)
    assert stored.status_code == 200, stored.text
    confirmed = await alice.post(f"{API}/files/upload-confirm", json={"upload_id": ticket["upload_id"]})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["size_bytes"] == len(scanned)
