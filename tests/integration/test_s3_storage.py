"""S3ObjectStorage against a real S3 server (SeaweedFS): presigned URLs as a client uses them, and the object API."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
import urllib3

from adapters.storage.s3 import S3ObjectStorage
from domain.errors import ServiceUnavailable
from tests.integration.support.seaweed import S3ServerInfo

PDF = b"%PDF-1.7\n" + os.urandom(3000) + b"\n%%EOF\n"
KEY = "user-1/scores/upload-1/original.pdf"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def upload(http: httpx.AsyncClient, storage: S3ObjectStorage, key: str, data: bytes) -> httpx.Response:
    ticket = await storage.presign_upload(key, "application/pdf", len(data), expires_in=60)
    return await http.request(ticket.method, ticket.url, headers=ticket.headers, content=data)


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query)) | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def with_path(url: str, path: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=path))


# --- presigned upload --------------------------------------------------------------------------


async def test_presigned_put_stores_the_bytes(
    s3_storage: S3ObjectStorage, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    before = datetime.now(UTC)
    ticket = await s3_storage.presign_upload(KEY, "application/pdf", len(PDF), expires_in=300)

    assert ticket.method == "PUT"
    assert ticket.headers == {"Content-Type": "application/pdf", "Content-Length": str(len(PDF)), "If-None-Match": "*"}
    assert "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match" in ticket.url
    assert before + timedelta(seconds=299) <= ticket.expires_at <= datetime.now(UTC) + timedelta(seconds=301)
    assert ticket.expires_at.microsecond == 0  # as local storage's, and as exact as the URL's X-Amz-Date
    response = await http.put(ticket.url, headers=ticket.headers, content=PDF)
    assert response.status_code == 200, response.text

    stored = await s3_storage.stat(KEY)
    assert stored is not None
    assert stored.size_bytes == len(PDF)
    assert await s3_storage.read_head(KEY, 1024) == PDF[:1024]
    destination = tmp_path / "copy.pdf"
    await s3_storage.download_to(KEY, destination)
    assert destination.read_bytes() == PDF

    await s3_storage.delete(KEY)
    assert await s3_storage.stat(KEY) is None


async def test_presigned_put_handles_keys_that_need_encoding(
    s3_storage: S3ObjectStorage, http: httpx.AsyncClient
) -> None:
    key = "user-1/scores/Bach Suite+Nº1 & co/original.pdf"

    response = await upload(http, s3_storage, key, PDF)

    assert response.status_code == 200, response.text
    stored = await s3_storage.stat(key)
    assert stored is not None
    assert stored.size_bytes == len(PDF)


@pytest.mark.parametrize("headers", [{"Content-Type": "text/html"}, {}], ids=["other-type", "no-type"])
async def test_put_with_another_content_type_is_refused(
    s3_storage: S3ObjectStorage, http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    ticket = await s3_storage.presign_upload(KEY, "application/pdf", len(PDF), expires_in=60)

    response = await http.put(ticket.url, headers=headers, content=PDF)

    assert response.status_code == 403, response.text
    assert await s3_storage.stat(KEY) is None


async def test_httpx_sends_the_signed_content_length_once(s3_storage: S3ObjectStorage) -> None:
    ticket = await s3_storage.presign_upload(KEY, "application/pdf", len(PDF), expires_in=60)

    async with capturing_server() as (base_url, heads), httpx.AsyncClient(timeout=5) as http:
        target = base_url + urlsplit(ticket.url).path
        response = await http.request(ticket.method, target, headers=ticket.headers, content=PDF)

    assert response.status_code == 200
    [head] = heads
    lengths = [line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")]
    assert lengths == [f"Content-Length: {len(PDF)}".encode()]
    assert b"transfer-encoding" not in head.lower()


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data[:1000]
    yield data[1000:]


# What a client that ignores the ticket's Content-Length sends; httpx sets Content-Length from the body.
OTHER_SIZES: dict[str, Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]] = {
    "larger": lambda http, url: http.put(url, headers=TYPE, content=PDF + b"x" * 1_000_000),
    "one-byte-larger": lambda http, url: http.put(url, headers=TYPE, content=PDF + b"x"),
    "smaller": lambda http, url: http.put(url, headers=TYPE, content=PDF[:-1]),
    "empty": lambda http, url: http.put(url, headers=TYPE, content=b""),
    "chunked": lambda http, url: http.put(url, headers=TYPE, content=chunks(PDF + b"x" * 5000)),
}
TYPE = {"Content-Type": "application/pdf"}


@pytest.mark.parametrize("send", OTHER_SIZES.values(), ids=OTHER_SIZES.keys())
async def test_put_of_another_size_is_refused(
    s3_storage: S3ObjectStorage,
    http: httpx.AsyncClient,
    send: Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]],
) -> None:
    ticket = await s3_storage.presign_upload(KEY, "application/pdf", len(PDF), expires_in=60)

    response = await send(http, ticket.url)

    assert response.status_code == 403, response.text
    assert await s3_storage.stat(KEY) is None


async def test_the_url_cannot_replace_the_object_it_stored(
    s3_storage: S3ObjectStorage, http: httpx.AsyncClient
) -> None:
    ticket = await s3_storage.presign_upload(KEY, "application/pdf", len(PDF), expires_in=60)
    assert (await http.put(ticket.url, headers=ticket.headers, content=PDF)).status_code == 200
    other = PDF[:9] + bytes(reversed(PDF[9:]))

    same_size = await http.put(ticket.url, headers=ticket.headers, content=other)
    unconditional = await http.put(ticket.url, headers=TYPE | {"Content-Length": str(len(PDF))}, content=other)
    larger = await http.put(ticket.url, headers=TYPE, content=PDF * 10)

    assert same_size.status_code == 412, same_size.text
    assert unconditional.status_code == 403, unconditional.text  # the condition is signed: it cannot be dropped
    assert larger.status_code == 403, larger.text
    assert await s3_storage.read_head(KEY, 10 * len(PDF)) == PDF


async def test_expired_urls_are_refused(s3_storage: S3ObjectStorage, http: httpx.AsyncClient) -> None:
    await s3_storage.put(KEY, PDF, "application/pdf")
    put_ticket = await s3_storage.presign_upload("user-1/scores/upload-2/original.pdf", "application/pdf", 9, 1)
    get_ticket = await s3_storage.presign_download(KEY, expires_in=1)

    await asyncio.sleep(2.1)

    put = await http.put(put_ticket.url, headers=put_ticket.headers, content=b"%PDF-late")
    assert put.status_code == 403, put.text
    get = await http.get(get_ticket.url)
    assert get.status_code == 403, get.text


TAMPERINGS: dict[str, Callable[[str], str]] = {
    "other-key": lambda url: with_path(url, urlsplit(url).path.replace("upload-1", "upload-9")),
    "signature": lambda url: with_query(url, **{"X-Amz-Signature": "0" * 64}),
    "longer-expiry": lambda url: with_query(url, **{"X-Amz-Expires": "604800"}),
    "signed-headers": lambda url: with_query(url, **{"X-Amz-SignedHeaders": "host"}),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
async def test_tampered_upload_url_is_refused(
    s3_storage: S3ObjectStorage, http: httpx.AsyncClient, tamper: Callable[[str], str]
) -> None:
    ticket = await s3_storage.presign_upload(KEY, "application/pdf", len(PDF), expires_in=60)

    response = await http.put(tamper(ticket.url), headers=ticket.headers, content=PDF)

    assert response.status_code == 403, response.text
    assert await s3_storage.stat(KEY) is None
    assert await s3_storage.stat(KEY.replace("upload-1", "upload-9")) is None


async def test_download_url_cannot_be_pointed_at_another_object(
    s3_storage: S3ObjectStorage, http: httpx.AsyncClient
) -> None:
    victim = "user-2/scores/upload-1/original.pdf"
    await s3_storage.put(victim, PDF, "application/pdf")
    ticket = await s3_storage.presign_download(KEY, expires_in=60)

    response = await http.get(with_path(ticket.url, urlsplit(ticket.url).path.replace("user-1", "user-2")))

    assert response.status_code == 403, response.text


async def test_urls_signed_with_a_wrong_secret_are_refused(
    s3_server: S3ServerInfo, s3_storage: S3ObjectStorage, http: httpx.AsyncClient
) -> None:
    await s3_storage.put(KEY, PDF, "application/pdf")
    forger = S3ObjectStorage(
        s3_server.endpoint, s3_server.access_key, "not-the-secret", s3_storage.bucket, secure=False
    )
    other_key = "user-1/scores/upload-2/original.pdf"

    put = await upload(http, forger, other_key, PDF)
    get = await http.get((await forger.presign_download(KEY, expires_in=60)).url)

    assert put.status_code == 403, put.text
    assert get.status_code == 403, get.text
    assert await s3_storage.stat(other_key) is None


async def test_urls_for_a_public_endpoint_sign_its_host(
    s3_server: S3ServerInfo, s3_storage: S3ObjectStorage, http: httpx.AsyncClient
) -> None:
    public_host = "files.example.test:9000"
    storage = S3ObjectStorage(
        s3_server.endpoint,
        s3_server.access_key,
        s3_server.secret_key,
        s3_storage.bucket,
        secure=False,
        public_endpoint=public_host,
        public_secure=True,
    )
    ticket = await storage.presign_upload(KEY, "application/pdf", len(PDF), expires_in=60)
    assert ticket.url.startswith(f"https://{public_host}/")
    # Send it to the real server as a proxy for files.example.test would: same path and query, that Host.
    internal_url = f"http://{s3_server.endpoint}{ticket.url.removeprefix(f'https://{public_host}')}"

    wrong_host = await http.put(internal_url, headers=ticket.headers, content=PDF)
    assert wrong_host.status_code == 403, wrong_host.text
    right_host = await http.put(internal_url, headers=ticket.headers | {"Host": public_host}, content=PDF)
    assert right_host.status_code == 200, right_host.text

    download = await storage.presign_download(KEY, expires_in=60)
    assert download.url.startswith(f"https://{public_host}/")
    internal_url = f"http://{s3_server.endpoint}{download.url.removeprefix(f'https://{public_host}')}"
    response = await http.get(internal_url, headers={"Host": public_host})
    assert response.content == PDF


# --- presigned download ------------------------------------------------------------------------


async def test_presigned_get_returns_the_bytes_as_an_attachment(
    s3_storage: S3ObjectStorage, http: httpx.AsyncClient
) -> None:
    await s3_storage.put(KEY, PDF, "application/pdf")

    ticket = await s3_storage.presign_download(KEY, expires_in=60, filename="Bach \u2013 Suite N\u00ba1.pdf")
    response = await http.request(ticket.method, ticket.url, headers=ticket.headers)

    assert ticket.method == "GET"
    assert ticket.headers == {}
    assert response.status_code == 200, response.text
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''Bach%20%E2%80%93%20Suite%20N%C2%BA1.pdf"
    )


async def test_presigned_get_without_filename_sets_no_disposition(
    s3_storage: S3ObjectStorage, http: httpx.AsyncClient
) -> None:
    await s3_storage.put(KEY, PDF, "application/pdf")

    response = await http.get((await s3_storage.presign_download(KEY, expires_in=60)).url)

    assert response.status_code == 200, response.text
    assert response.content == PDF
    assert "content-disposition" not in response.headers


# --- object API --------------------------------------------------------------------------------


async def test_read_head_fetches_only_the_requested_range(
    s3_storage: S3ObjectStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = os.urandom(2 * 1024 * 1024)
    await s3_storage.put(KEY, big, "application/pdf")
    requested_ranges: list[str | None] = []
    urlopen = urllib3.PoolManager.urlopen

    def spy(self: urllib3.PoolManager, method: str, url: str, redirect: bool = True, **kw: Any) -> Any:
        if method == "GET":
            requested_ranges.append((kw.get("headers") or {}).get("Range"))
        return urlopen(self, method, url, redirect=redirect, **kw)

    monkeypatch.setattr(urllib3.PoolManager, "urlopen", spy)

    head = await s3_storage.read_head(KEY, 1024)

    assert head == big[:1024]
    assert requested_ranges == ["bytes=0-1023"]


async def test_read_head_of_short_and_empty_objects(s3_storage: S3ObjectStorage) -> None:
    await s3_storage.put("short", b"%PDF-", "application/pdf")
    await s3_storage.put("empty", b"", "application/pdf")

    assert await s3_storage.read_head("short", 1024) == b"%PDF-"
    assert await s3_storage.read_head("empty", 1024) == b""


async def test_reading_a_missing_object_raises_file_not_found(s3_storage: S3ObjectStorage, tmp_path: Path) -> None:
    assert await s3_storage.stat("missing") is None
    with pytest.raises(FileNotFoundError):
        await s3_storage.read_head("missing", 10)
    with pytest.raises(FileNotFoundError):
        await s3_storage.download_to("missing", tmp_path / "out.pdf")
    assert not (tmp_path / "out.pdf").exists()


async def test_download_to_streams_a_large_object_to_a_file(s3_storage: S3ObjectStorage, tmp_path: Path) -> None:
    big = os.urandom(6 * 1024 * 1024 + 17)  # larger than SeaweedFS's 4 MiB chunks
    await s3_storage.put(KEY, big, "application/pdf")
    destination = tmp_path / "nested" / "original.pdf"

    await s3_storage.download_to(KEY, destination)

    assert destination.read_bytes() == big
    assert list(destination.parent.iterdir()) == [destination]  # no side file beside it


async def test_put_stores_bytes_and_content_type(s3_storage: S3ObjectStorage, http: httpx.AsyncClient) -> None:
    await s3_storage.put("user-1/thumb.jpg", b"\xff\xd8jpeg", "image/jpeg")

    response = await http.get((await s3_storage.presign_download("user-1/thumb.jpg", expires_in=60)).url)

    assert response.content == b"\xff\xd8jpeg"
    assert response.headers["content-type"] == "image/jpeg"


async def test_delete_removes_the_object_and_missing_is_fine(s3_storage: S3ObjectStorage) -> None:
    await s3_storage.put(KEY, PDF, "application/pdf")

    await s3_storage.delete(KEY)
    await s3_storage.delete(KEY)
    await s3_storage.delete("never-existed")

    assert await s3_storage.stat(KEY) is None


async def test_delete_prefix_removes_everything_under_it(s3_storage: S3ObjectStorage) -> None:
    doomed = ["user-1/scores/a/original.pdf", "user-1/scores/a/thumbnail.jpg", "user-1/scores/a/pages/3.jpg"]
    kept = ["user-1/scores/ab/original.pdf", "user-2/scores/a/original.pdf"]
    for key in doomed + kept:
        await s3_storage.put(key, b"x", "application/octet-stream")

    await s3_storage.delete_prefix("user-1/scores/a/")
    await s3_storage.delete_prefix("user-9/nothing-here/")

    assert [key for key in doomed if await s3_storage.stat(key) is not None] == []
    assert [key for key in kept if await s3_storage.stat(key) is None] == []


async def test_delete_prefix_refuses_the_empty_prefix(s3_storage: S3ObjectStorage) -> None:
    await s3_storage.put(KEY, PDF, "application/pdf")

    with pytest.raises(ValueError, match="every object"):
        await s3_storage.delete_prefix("")

    assert await s3_storage.stat(KEY) is not None


# --- bucket and health -------------------------------------------------------------------------


async def test_check_passes_for_a_reachable_bucket(s3_storage: S3ObjectStorage) -> None:
    await s3_storage.check()


async def test_check_raises_for_a_missing_bucket(s3_server: S3ServerInfo) -> None:
    with pytest.raises(ServiceUnavailable, match="does not exist"):
        await s3_server.storage("no-such-bucket-here").check()


async def test_check_raises_quickly_for_an_unreachable_endpoint() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    storage = S3ObjectStorage(f"127.0.0.1:{closed_port}", "key", "secret", "bucket", secure=False)

    started = time.monotonic()
    with pytest.raises(ServiceUnavailable, match="check failed"):
        await storage.check()

    assert time.monotonic() - started < 3


# --- outages -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def capturing_server() -> AsyncIterator[tuple[str, list[bytes]]]:
    """An HTTP server that records each request's head and answers 200: to see what a client sends."""
    heads: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        heads.append(head)
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                await reader.readexactly(int(line.split(b":", 1)[1]))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", heads


@contextlib.asynccontextmanager
async def broken_server(behaviour: str, requests: list[bytes] | None = None) -> AsyncIterator[str]:
    """A server that accepts connections but is no S3: `garbage` answers 418 text/plain, `silent` never
    answers, `hang-up` closes the connection after the request head, `hang-up-once` does so to the first
    request and answers as `garbage` after. Request heads go to `requests`."""
    stop = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            head = await reader.readuntil(b"\r\n\r\n")
            if requests is not None:
                requests.append(head)
            if behaviour == "hang-up-once" and len(requests or ()) == 1:
                writer.close()
                return
            if behaviour in ("garbage", "hang-up-once"):
                writer.write(
                    b"HTTP/1.1 418 I'm a teapot\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: 6\r\nConnection: close\r\n\r\nteapot"
                )
                await writer.drain()
            elif behaviour == "silent":
                await stop.wait()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        async with server:
            yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        stop.set()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def every_operation(storage: S3ObjectStorage, tmp_path: Path) -> dict[str, Awaitable[object]]:
    return {
        "stat": storage.stat(KEY),
        "read_head": storage.read_head(KEY, 10),
        "download_to": storage.download_to(KEY, tmp_path / "out.pdf"),
        "put": storage.put(KEY, PDF, "application/pdf"),
        "delete": storage.delete(KEY),
        "delete_prefix": storage.delete_prefix("user-1/"),
        "check": storage.check(),
        "ensure_bucket": storage.ensure_bucket(),
    }


async def assert_every_operation_is_unavailable(
    storage: S3ObjectStorage, tmp_path: Path, *, must_not_leak: list[str]
) -> None:
    operations = every_operation(storage, tmp_path)
    outcomes = await asyncio.gather(*operations.values(), return_exceptions=True)

    raised = dict(zip(operations, outcomes, strict=True))
    assert {name: type(error).__name__ for name, error in raised.items()} == dict.fromkeys(
        operations, "ServiceUnavailable"
    )
    for name, error in raised.items():
        assert isinstance(error, ServiceUnavailable)
        assert error.detail.startswith(f"object storage {name} failed: "), error.detail
        for secret in must_not_leak:
            assert secret not in error.detail
    assert not (tmp_path / "out.pdf").exists()


async def test_every_operation_raises_service_unavailable_quickly_for_a_closed_port(tmp_path: Path) -> None:
    port = closed_port()
    storage = S3ObjectStorage(f"127.0.0.1:{port}", "the-access-key", "the-secret", "bucket", secure=False)

    started = time.monotonic()
    await assert_every_operation_is_unavailable(
        storage, tmp_path, must_not_leak=["the-access-key", "the-secret", str(port)]
    )

    assert time.monotonic() - started < 3
    # Presigning needs no server.
    assert (await storage.presign_upload(KEY, "application/pdf", 10, 60)).url.startswith("http://127.0.0.1")
    assert (await storage.presign_download(KEY, 60)).url.startswith("http://127.0.0.1")


@pytest.mark.parametrize("behaviour", ["garbage", "silent", "hang-up"])
async def test_every_operation_raises_service_unavailable_for_a_broken_server(tmp_path: Path, behaviour: str) -> None:
    async with broken_server(behaviour) as endpoint:
        storage = S3ObjectStorage(endpoint, "key", "the-secret", "bucket", secure=False, read_timeout=0.1)

        started = time.monotonic()
        await assert_every_operation_is_unavailable(storage, tmp_path, must_not_leak=["the-secret", endpoint])

    assert time.monotonic() - started < 3


async def test_a_server_gone_quiet_after_taking_the_request_is_not_asked_again() -> None:
    requests: list[bytes] = []
    async with broken_server("silent", requests) as endpoint:
        storage = S3ObjectStorage(endpoint, "key", "the-secret", "bucket", secure=False, read_timeout=0.2)

        with pytest.raises(ServiceUnavailable):
            await storage.stat(KEY)

    assert len(requests) == 1


async def test_a_connection_dropped_as_the_request_went_out_is_tried_again() -> None:
    requests: list[bytes] = []
    async with broken_server("hang-up-once", requests) as endpoint:
        storage = S3ObjectStorage(endpoint, "key", "the-secret", "bucket", secure=False, read_timeout=5)

        with pytest.raises(ServiceUnavailable):  # the second answer is no S3's either
            await storage.stat(KEY)

    assert len(requests) == 2


async def test_every_operation_raises_service_unavailable_for_refused_credentials(
    s3_server: S3ServerInfo, s3_storage: S3ObjectStorage, tmp_path: Path
) -> None:
    await s3_storage.put(KEY, PDF, "application/pdf")
    storage = S3ObjectStorage(s3_server.endpoint, s3_server.access_key, "wrong", s3_storage.bucket, secure=False)

    await assert_every_operation_is_unavailable(storage, tmp_path, must_not_leak=[s3_server.secret_key, "wrong"])

    assert await s3_storage.read_head(KEY, len(PDF)) == PDF


async def test_check_raises_for_wrong_credentials(s3_server: S3ServerInfo, s3_storage: S3ObjectStorage) -> None:
    storage = S3ObjectStorage(s3_server.endpoint, s3_server.access_key, "wrong", s3_storage.bucket, secure=False)

    with pytest.raises(ServiceUnavailable):
        await storage.check()


async def test_ensure_bucket_creates_it_once(s3_server: S3ServerInfo) -> None:
    bucket = f"ensure-{os.urandom(6).hex()}"
    storage = s3_server.storage(bucket)
    try:
        await storage.ensure_bucket()
        await storage.ensure_bucket()
        await storage.check()
    finally:
        s3_server.client().remove_bucket(bucket)
