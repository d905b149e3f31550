"""The object server of local storage: PUT and GET on URLs that LocalObjectStorage signed."""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import quote

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Request, Response, get, put
from litestar.response import File

from adapters.storage.local import URL_PREFIX, LocalObjectStorage, ObjectTooLarge, SignatureError
from entrypoints.http.errors import error_response


def _query(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {name: request.query_params[name] for name in request.query_params}


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
            size = await storage.write_stream(grant.key, request.stream(), limit)
        except ObjectTooLarge as error:
            return error_response(413, "file_too_large", str(error))
        return Response({"key": grant.key, "size_bytes": size}, status_code=200)

    @get("/{key:path}")
    async def download(
        self, key: str, request: Request[Any, Any, Any], storage: FromDishka[LocalObjectStorage]
    ) -> Response[Any] | File:
        try:
            grant = storage.verify("GET", key.lstrip("/"), _query(request))
        except SignatureError as error:
            return error_response(403, "invalid_signature", str(error))
        path = storage.path_for(grant.key)
        if not path.is_file():
            return error_response(404, "not_found", "No object is stored under this key.")
        media_type = "image/jpeg" if path.suffix == ".jpg" else "application/pdf"
        disposition: Literal["attachment", "inline"] = "attachment" if grant.filename else "inline"
        headers = {"Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(grant.filename or path.name)}"}
        return File(path, media_type=media_type, headers=headers, content_disposition_type=disposition)
