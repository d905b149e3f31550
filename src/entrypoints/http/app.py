"""The Litestar application factory."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from dishka.integrations.litestar import DishkaRouter, LitestarProvider, setup_dishka
from litestar import Litestar, Request
from litestar.config.compression import CompressionConfig
from litestar.config.cors import CORSConfig
from litestar.datastructures import ResponseHeader
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.routes import HTTPRoute

from entrypoints.http.accounts import AccountController
from entrypoints.http.admin import AdminController
from entrypoints.http.auth import HttpProvider, authenticate_first, scraper_only
from entrypoints.http.base_path_aliases import interactive_docs, openapi_document
from entrypoints.http.dashboard import DashboardController
from entrypoints.http.duplicates import DuplicateController
from entrypoints.http.errors import EXCEPTION_HANDLERS, read_json_body
from entrypoints.http.etag import REVALIDATED
from entrypoints.http.files import FileController
from entrypoints.http.health import HealthController
from entrypoints.http.local_storage import LocalStorageController
from entrypoints.http.openapi import BEARER, TAGS, complete_document
from entrypoints.http.request_log import with_request_log
from entrypoints.http.scores import ScoreController
from entrypoints.http.setlists import SetlistController
from entrypoints.http.trash import TrashController
from entrypoints.ioc import make_runtime
from entrypoints.lifecycle import api_process
from entrypoints.observability import configure_logging
from entrypoints.settings import Settings
from entrypoints.version import package_version

logger = logging.getLogger(__name__)


class MetricsController(PrometheusController):
    """Prometheus scrapes `GET /metrics`, with `Authorization: Bearer <SCOREMATE_METRICS_TOKEN>` when that is set."""

    path = "/metrics"
    include_in_schema = False
    guards = [scraper_only]


API_PREFIX = "/api/v1"
# Responses at least this large are sent gzipped to clients that accept it; smaller ones gain too little. Stored
# files (local storage) are sent as they are: they are PDFs and JPEGs, and may be asked for by byte range.
COMPRESSION = CompressionConfig(backend="gzip", minimum_size=1024, gzip_compress_level=6, exclude=["^/storage/"])


DESCRIPTION = """Sheet-music libraries: accounts, presigned uploads, scores, setlists and a dashboard.

Every endpoint except register, login and health needs `Authorization: Bearer <access_token>`.
Every error answers `{"status_code", "code", "detail"}`; each response lists its `code` values.
JSON request bodies may be at most `SCOREMATE_MAX_REQUEST_BODY_BYTES` (1 MiB by default): larger ones answer
413 `request_too_large`.

Upload flow: `POST /api/v1/files/upload-url` reserves quota and answers a presigned request; send the file
straight to storage with exactly its `method`, `upload_url` and `headers`; then `POST /api/v1/files/upload-confirm`
(or create the score with `POST /api/v1/scores`, which confirms it) or `POST /api/v1/files/upload-cancel`.
"""


async def _before_api_request(request: Request[Any, Any, Any]) -> None:
    await authenticate_first(request)
    await read_json_body(request)


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    configure_logging(settings)
    broker, container = make_runtime(settings, HttpProvider(), LitestarProvider())
    api = DishkaRouter(
        API_PREFIX,
        route_handlers=[
            AccountController,
            FileController,
            ScoreController,
            SetlistController,
            DuplicateController,
            TrashController,
            DashboardController,
            AdminController,
        ],
        security=[{BEARER: []}],
        # Every JSON endpoint: at most this many body bytes (413 request_too_large), and UTF-8 (else 400).
        request_max_body_size=settings.max_request_body_bytes,
        before_request=_before_api_request,
    )
    metrics = PrometheusConfig(app_name="scoremate", prefix="scoremate", group_path=True, exclude=["/metrics"])
    handlers: list[DishkaRouter] = [
        api,
        DishkaRouter("/", route_handlers=[HealthController, MetricsController]),
        # API.md puts every path under /api/v1 and lists health and the docs at the root: both answer.
        DishkaRouter(
            API_PREFIX, route_handlers=[HealthController, openapi_document, interactive_docs], include_in_schema=False
        ),
    ]
    if settings.storage == "local":
        handlers.append(DishkaRouter("/", route_handlers=[LocalStorageController]))

    @contextlib.asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async with api_process(settings, broker, container):
            yield

    app = Litestar(
        route_handlers=handlers,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        middleware=[metrics.middleware],
        # Browsers take a stored file for what its Content-Type says, never for what its bytes look like.
        response_headers=[ResponseHeader(name="X-Content-Type-Options", value="nosniff")],
        logging_config=None,  # entrypoints.observability configures logging for every process kind
        request_max_body_size=settings.max_request_body_bytes,
        compression_config=COMPRESSION,
        cors_config=CORSConfig(allow_origins=list(settings.cors_allow_origins))
        if settings.cors_allow_origins
        else None,
        openapi_config=OpenAPIConfig(
            title="ScoreMate API",
            version=package_version(),
            description=DESCRIPTION,
            tags=TAGS,
            path="/schema",
            use_handler_docstrings=True,
            security=[{BEARER: []}],
            components=Components(
                security_schemes={
                    BEARER: SecurityScheme(
                        type="http",
                        scheme="bearer",
                        bearer_format="JWT",
                        description="The `access_token` of `POST /api/v1/auth/login`.",
                    )
                }
            ),
        ),
    )
    revalidated = [
        handler.operation_id
        for route in app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if handler.opt.get(REVALIDATED) and isinstance(handler.operation_id, str)
    ]
    complete_document(app.openapi_schema, revalidated)  # built once here, then served as completed
    setup_dishka(container, app)
    app.asgi_handler = with_request_log(app.asgi_handler)
    return app
