"""The OpenAPI document and the interactive docs under the API's base path too (the app mounts health there)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.enums import OpenAPIMediaType
from litestar.response import Redirect


@get("/schema/openapi.json", media_type=OpenAPIMediaType.OPENAPI_JSON, include_in_schema=False)
async def openapi_document(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return request.app.openapi_schema.to_schema()


@get("/schema", include_in_schema=False)
async def interactive_docs() -> Redirect:
    return Redirect("/schema")
