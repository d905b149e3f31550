"""Request ids and access lines: every request gets an id (the caller's X-Request-ID when it is sane) that is
echoed back and carried by every log line written while it is served. The access line leaves out the query
string, which for storage URLs holds a signature."""

from __future__ import annotations

import logging
import re
import time
from contextvars import ContextVar
from uuid import uuid4

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from entrypoints.observability import request_id

HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
access_logger = logging.getLogger("scoremate.access")
# nginx's status for a client that went away before the whole request arrived; only logs and metrics see it.
CLIENT_CLOSED_REQUEST = 499
# Set, per request, once the server has told the application that the client is gone.
_client_gone: ContextVar[list[bool]] = ContextVar("client_gone")


def client_went_away() -> bool:
    """Whether the client of the request being served has disconnected (say, in the middle of its body)."""
    return any(_client_gone.get([]))


def with_request_log(app: ASGIApp) -> ASGIApp:
    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        given = dict(scope["headers"]).get(HEADER, b"")
        rid = given.decode() if _SANE_ID.match(given) else uuid4().hex
        token = request_id.set(rid)
        gone: list[bool] = []
        gone_token = _client_gone.set(gone)
        status = 500

        async def receive_noting_disconnect() -> ReceiveMessage:
            message = await receive()
            if message["type"] == "http.disconnect":
                gone.append(True)
            return message

        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (HEADER, rid.encode())]
            await send(message)

        try:
            await app(scope, receive_noting_disconnect, send_with_id)
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            access_logger.info(
                "%s %s %d %.1f ms",
                method,
                path,
                status,
                elapsed_ms,
                extra={"method": method, "path": path, "status": status, "ms": round(elapsed_ms, 1)},
            )
            request_id.reset(token)
            _client_gone.reset(gone_token)

    return handle
