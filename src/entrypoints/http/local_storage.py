"""The object server of local storage: PUT and GET on URLs that LocalObjectStorage signed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.utils import formatdate
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import anyio
from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, put
from litestar.exceptions import InternalServerException
from litestar.response import File, Stream
from litestar.response.file import create_etag_for_file

from adapters.storage.local import URL_PREFIX, LocalObjectStorage, ObjectExists, ObjectTooLarge, SignatureError
from entrypoints.http.byte_ranges import RangeNotSatisfiable, byte_range
from entrypoints.http.errors import error_response
from entrypoints.http.request_log import CLIENT_CLOSED_REQUEST

_CHUNK = 256 * 1024


class ClientGone(Exception):
    pass


async def _body(request: Request[Any, Any, Any]) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except InternalServerException as error:  # what Litestar raises when the client disconnects mid-body
        raise ClientGone() from error


def _query(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {name: request.query_params[name] for name in request.query_params}


async def _read_range(path: Path, first: int, last: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as file:
        await file.seek(first)
        remaining = last - first + 1
        while remaining > 0:
            chunk = await file.read(min(_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


class LocalStorageController(Controller):
    path = URL_PREFIX.rstrip("/")
    tags = ["Storage"]
    include_in_schema = False
    security = []

    @put("/{key:path}", status_code=200, request_max_body_size=None)
    async def upload(
        self, key: str, request: Request[Any, Any, Any], storage: FromDishka[LocalObjectStorage]
    ) -> Response[Any]:
        try:
            grant = storage.verify("PUT", key.lstrip("/"), _query(request))
        except SignatureError as error:
            return error_response(403, "invalid_signature", str(error))
        if grant.content_type and request.headers.get("content-type", "").split(";")[0].strip() != grant.content_type:
            return error_response(403, "invalid_signature", f"The Content-Type must be {grant.content_type}.")
        limit = grant.max_size or 0
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return error_response(413, "file_too_large", f"This URL accepts at most {limit} bytes.")
        try:
            size = await storage.write_stream(grant.key, _body(request), limit, replace=False)
        except ClientGone:
            # Nothing was stored; not a server error, so it does not page the operator as a 500 would.
            return Response(None, status_code=CLIENT_CLOSED_REQUEST)
        except ObjectTooLarge as error:
            return error_response(413, "file_too_large", str(error))
        except ObjectExists:
            # What S3 answers to `If-None-Match: *` over a stored object.
            return error_response(
                412, "precondition_failed", "A file is already stored for this upload; an upload URL stores one file."
            )
        return Response({"key": grant.key, "size_bytes": size}, status_code=200)

    @get("/{key:path}")
    async def download(
        self, key: str, request: Request[Any, Any, Any], storage: FromDishka[LocalObjectStorage]
    ) -> Response[Any] | File | Stream:
        """The object, or the single byte range asked for (206), so viewers can load large PDFs progressively."""
        try:
            grant = storage.verify("GET", key.lstrip("/"), _query(request))
        except SignatureError as error:
            return error_response(403, "invalid_signature", str(error))
        path = storage.path_for(grant.key)
        try:
            stat = await anyio.Path(path).stat()
        except FileNotFoundError:
            return error_response(404, "not_found", "No object is stored under this key.")
        size = stat.st_size
        media_type = "image/jpeg" if path.suffix == ".jpg" else "application/pdf"
        disposition: Literal["attachment", "inline"] = "attachment" if grant.filename else "inline"
        validators = {
            "ETag": create_etag_for_file(path, stat.st_mtime, size),
            "Last-Modified": formatdate(stat.st_mtime, usegmt=True),
        }
        headers = {
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(grant.filename or path.name)}",
            "Accept-Ranges": "bytes",
            **validators,
        }
        if_range = request.headers.get("if-range")
        try:
            # A range of another version of the object (If-Range names an old one) would splice two files.
            wanted = (
                byte_range(request.headers.get("range"), size) if if_range in (None, *validators.values()) else None
            )
        except RangeNotSatisfiable:
            return error_response(
                416, "range_not_satisfiable", f"The object has {size} bytes.", {"Content-Range": f"bytes */{size}"}
            )
        if wanted is None:
            return File(path, media_type=media_type, headers=headers, content_disposition_type=disposition)
        first, last = wanted
        headers |= {"Content-Range": f"bytes {first}-{last}/{size}", "Content-Length": str(last - first + 1)}
        return Stream(_read_range(path, first, last), status_code=206, media_type=media_type, headers=headers)
