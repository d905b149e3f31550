"""Request limits against `scoremate serve`. On its defaults: every JSON endpoint refuses a body past
SCOREMATE_MAX_REQUEST_BODY_BYTES (1 MiB) with 413 request_too_large, whether the body announces its length or is
streamed; bodies up to the limit pass; bytes that are not UTF-8 are a 400; file uploads are not bound by it.

The HTTP server's own limits (entrypoints/http/server_limits.py), on raw sockets over loopback: huge request lines
and headers are refused after reading little, slow headers and bodies are cut off, a client that hangs up mid-body
is logged as such, and thousands of unfinished requests against a process with 2,048 file descriptors leave room
for a new client."""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.support import samples
from tests.integration.support.api import User, register
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
    assert len(operations) == 14  # every POST, PUT and PATCH with a body, admin PATCH included
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


# The limits of the guarded server: short, so the tests take seconds.
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
UPLOAD_MIN_RATE = 64 * 1024
FILE_LIMIT = 2048


def _files_limited_to(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(
        tmp_path_factory.mktemp("guarded-server"),
        preexec_fn=lambda: _files_limited_to(FILE_LIMIT),
        request_header_timeout_seconds=HEADER_TIMEOUT,
        request_body_timeout_seconds=BODY_TIMEOUT,
        upload_min_bytes_per_second=UPLOAD_MIN_RATE,
    ) as running:
        yield running


def _address(server: Server) -> tuple[str, int]:
    host, _, port = server.base_url.removeprefix("http://").partition(":")
    return host, int(port)


def _connect(server: Server, timeout: float = 10) -> socket.socket:
    return socket.create_connection(_address(server), timeout=timeout)


def _answer(sock: socket.socket, within: float) -> bytes:
    """What the server sends until it closes the connection (b"" for a reset), waiting at most `within`."""
    sock.settimeout(within)
    received = b""
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                return received
            received += chunk
    except (ConnectionResetError, BrokenPipeError):
        return received
    raise AssertionError(f"the connection is still open after {within} s; got {received[:200]!r}")


def _log_since(server: Server, offset: int) -> str:
    return server.process.log_path.read_bytes()[offset:].decode(errors="replace")


def _log_size(server: Server) -> int:
    return server.process.log_path.stat().st_size


@pytest.mark.parametrize("where", ["request line", "header"])
def test_a_huge_request_line_or_header_is_refused_after_reading_little(guarded: Server, where: str) -> None:
    start = b"GET /" if where == "request line" else b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: "
    chunk = b"a" * 65536
    sent = 0
    started = time.monotonic()
    with _connect(guarded) as sock:
        try:
            sock.sendall(start)
            while sent < 64 * 1024 * 1024:  # a 64 MiB header, unless the server stops it
                sock.sendall(chunk)
                sent += len(chunk)
        except (ConnectionResetError, BrokenPipeError, TimeoutError):
            pass
        answer = _answer(sock, 5)
    assert sent < 4 * 1024 * 1024, f"the server read {sent} bytes of {where}"
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert time.monotonic() - started < 5
    assert httpx.get(f"{guarded.base_url}/health").status_code == 200


def test_headers_sent_byte_by_byte_are_cut_off_at_the_deadline(guarded: Server) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 1000
    started = time.monotonic()
    with _connect(guarded) as sock:
        try:
            for byte in request:
                sock.sendall(bytes([byte]))
                if time.monotonic() - started > HEADER_TIMEOUT + 3:
                    break
                time.sleep(0.05)
        except (ConnectionResetError, BrokenPipeError):
            pass
        answer = _answer(sock, 3)
    elapsed = time.monotonic() - started
    assert HEADER_TIMEOUT - 0.5 < elapsed < HEADER_TIMEOUT + 2, elapsed
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_a_connection_that_sends_nothing_is_closed_at_the_header_deadline(guarded: Server) -> None:
    started = time.monotonic()
    with _connect(guarded) as sock:
        assert _answer(sock, HEADER_TIMEOUT + 3) == b""
    assert time.monotonic() - started < HEADER_TIMEOUT + 2


def test_a_slow_json_body_is_cut_off_at_the_deadline(guarded: Server) -> None:
    offset = _log_size(guarded)
    body = json.dumps({"email": "slow@example.com", "password": "x" * 200}).encode()
    head = (
        f"POST {API}/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    with _connect(guarded) as sock:
        sock.sendall(head)
        try:
            for byte in body:
                sock.sendall(bytes([byte]))
                if time.monotonic() - started > BODY_TIMEOUT + 3:
                    break
                time.sleep(0.05)
        except (ConnectionResetError, BrokenPipeError):
            pass
        answer = _answer(sock, 3)
    elapsed = time.monotonic() - started
    assert BODY_TIMEOUT - 0.5 < elapsed < BODY_TIMEOUT + 2, elapsed
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
    time.sleep(0.5)
    log = _log_since(guarded, offset)
    assert "ERROR" not in log and " 500 " not in log, log


def test_a_client_hanging_up_mid_body_is_logged_as_gone_not_as_a_500(guarded: Server) -> None:
    offset = _log_size(guarded)
    with _connect(guarded) as sock:
        sock.sendall(
            f"POST {API}/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n".encode()
            + b'{"email": "gone@example.com", "password": "'
            + b"x" * 400
        )
        time.sleep(0.3)
    deadline = time.monotonic() + 5
    while "client went away" not in (log := _log_since(guarded, offset)) and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = [line for line in log.splitlines() if line.strip()]
    gone = [line for line in lines if "client went away" in line]
    assert gone and all(" INFO " in line or " WARNING " in line for line in gone), log
    assert not [line for line in lines if "ERROR" in line or " 500 " in line], log


async def test_a_local_storage_upload_slower_than_the_minimum_rate_is_cut_off(guarded: Server) -> None:
    pdf = samples.scanned()
    async with httpx.AsyncClient(base_url=guarded.base_url, timeout=30) as http:
        user = await register(http)
        slow_ticket = await user.request_upload(pdf, "slow.pdf")
        url = httpx.URL(slow_ticket["upload_url"])
        head = f"PUT {url.raw_path.decode()} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(pdf)}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in slow_ticket["headers"].items()) + "\r\n"
        started = time.monotonic()
        sent, answer = await asyncio.to_thread(_send_slowly, guarded, head.encode(), pdf)
        elapsed = time.monotonic() - started
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
        # Cut off once the bytes fall behind the grace plus the minimum rate, long before the file is sent.
        assert BODY_TIMEOUT < elapsed < BODY_TIMEOUT + 5, elapsed
        assert sent < len(pdf)

        ticket = await user.request_upload(pdf, "normal.pdf")
        stored = await user.send_file(ticket, pdf)
        assert stored.status_code == 200, stored.text


def _send_slowly(server: Server, head: bytes, body: bytes) -> tuple[int, bytes]:
    """16 KiB each 0.5 s (a quarter of the minimum rate) until the server stops it: bytes sent, its answer."""
    started = time.monotonic()
    sent = 0
    with _connect(server) as sock:
        sock.sendall(head)
        try:
            while sent < len(body) and time.monotonic() - started < BODY_TIMEOUT + 10:
                sock.sendall(body[sent : sent + 16 * 1024])
                sent += 16 * 1024
                time.sleep(0.5)
        except (ConnectionResetError, BrokenPipeError):
            pass
        return sent, _answer(sock, 5)


def test_thousands_of_unfinished_requests_leave_room_for_a_new_client(tmp_path: Path) -> None:
    # The defaults, but a process with 2,048 file descriptors: the connections of the flood outnumber them.
    own_soft, own_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if own_soft < 4000:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(own_hard, 8192), own_hard))
    with serve(tmp_path / "flooded", preexec_fn=lambda: _files_limited_to(FILE_LIMIT)) as server:
        flood: list[socket.socket] = []
        try:
            for _ in range(1500):
                sock = socket.create_connection(_address(server), timeout=5)
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Unfinished: ")
                flood.append(sock)
            started = time.monotonic()
            answered = httpx.get(f"{server.base_url}/health", timeout=5)
            elapsed = time.monotonic() - started
            assert answered.status_code == 200
            assert elapsed < 3, elapsed
            # And again, while the flood is still open.
            assert httpx.get(f"{server.base_url}/health", timeout=5).status_code == 200
        finally:
            for sock in flood:
                sock.close()
            resource.setrlimit(resource.RLIMIT_NOFILE, (own_soft, own_hard))


def test_every_api_process_of_serve_workers_holds_the_limits(
    tmp_path: Path, redis_url: str, redis_key_prefix: str
) -> None:
    with serve(
        tmp_path / "workers",
        workers=2,
        redis_url=redis_url,
        redis_key_prefix=redis_key_prefix,
        request_header_timeout_seconds=HEADER_TIMEOUT,
    ) as server:
        for _ in range(4):  # connections land on either process
            started = time.monotonic()
            with _connect(server) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: a")
                answer = _answer(sock, HEADER_TIMEOUT + 3)
            assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
            assert time.monotonic() - started < HEADER_TIMEOUT + 2
            with _connect(server) as sock:
                sent = 0
                try:
                    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ")
                    while sent < 64 * 1024 * 1024:
                        sock.sendall(b"a" * 65536)
                        sent += 65536
                except (ConnectionResetError, BrokenPipeError):
                    pass
                answer = _answer(sock, 5)
            assert sent < 4 * 1024 * 1024
            assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:200]
