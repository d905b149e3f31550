"""Conditional GET for what clients poll (a score until it is processed, the library page): an `ETag` computed from
the response body, and `If-None-Match` naming it answers 304 with no body.

The tag is weak (`W/"..."`): it names the JSON, not its bytes on the wire, which gzip (ours or a proxy's) changes.
A route handler takes it with ``**revalidated(documented(...))``; the body of a 200 is never changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from litestar.enums import ScopeType
from litestar.openapi.datastructures import ResponseSpec
from litestar.types import ASGIApp, HTTPResponseStartEvent, Message, Receive, Scope, Send

REVALIDATED = "revalidated"  # route handler opt: answers ETag and 304 (the OpenAPI document says so too)
# Headers of a 200 that a 304 does not repeat: it has no body.
_BODY_HEADERS = frozenset({b"content-type", b"content-length", b"content-encoding", b"transfer-encoding"})


def etag_of(body: bytes) -> str:
    return f'W/"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 13.1.2: weak comparison against each listed tag, or `*`."""
    if if_none_match.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    return any(candidate.strip().removeprefix("W/") == opaque for candidate in if_none_match.split(","))


def conditional_get(app: ASGIApp) -> ASGIApp:
    """Route middleware: holds back a 200's body, tags it, and answers 304 when the request already has it."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] not in ("GET", "HEAD"):
            await app(scope, receive, send)
            return
        start: HTTPResponseStartEvent | None = None
        chunks: list[bytes] = []

        async def tagging_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start" and message["status"] == 200:
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            etag = etag_of(body)
            if_none_match = _request_header(scope, b"if-none-match")
            if if_none_match is not None and matches(if_none_match, etag):
                headers = [(k, v) for k, v in start["headers"] if k.lower() not in _BODY_HEADERS]
                await send({**start, "status": 304, "headers": [*headers, (b"etag", etag.encode())]})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send({**start, "headers": [*start["headers"], (b"etag", etag.encode())]})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await app(scope, receive, tagging_send)

    return middleware


def _request_header(scope: Scope, name: bytes) -> str | None:
    values = [value.decode("latin-1") for key, value in scope["headers"] if key.lower() == name]
    return ", ".join(values) if values else None


def revalidated(handler_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """A route handler's keyword arguments (from ``documented``) plus the ETag middleware and the 304 answer."""
    kwargs = dict(handler_kwargs)
    kwargs["middleware"] = [*kwargs.get("middleware", []), conditional_get]
    kwargs["responses"] = {
        **kwargs.get("responses", {}),
        304: ResponseSpec(
            None,
            description="Not modified: `If-None-Match` names the current `ETag`; no body.",
            generate_examples=False,
        ),
    }
    kwargs["opt"] = {**kwargs.get("opt", {}), REVALIDATED: True}
    return kwargs
