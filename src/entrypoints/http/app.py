"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from dishka import AsyncContainer
from dishka.integrations.litestar import DishkaRouter, LitestarProvider, setup_dishka
from litestar import Litestar, Request
from litestar.config.cors import CORSConfig
from litestar.datastructures import ResponseHeader
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from taskiq import AsyncBroker

from adapters.sqlalchemy.migrate import head_revision, migrate
from application.maintenance import RebuildLostQuota, ReconcileQuota, ResumeUnfinishedWork
from application.ports import PdfRenderer
from entrypoints.http.accounts import AccountController
from entrypoints.http.auth import HttpProvider, authenticate_first, scraper_only
from entrypoints.http.base_path_aliases import interactive_docs, openapi_document
from entrypoints.http.dashboard import DashboardController
from entrypoints.http.errors import EXCEPTION_HANDLERS, read_json_body
from entrypoints.http.files import FileController
from entrypoints.http.health import HealthController
from entrypoints.http.local_storage import LocalStorageController
from entrypoints.http.openapi import BEARER
from entrypoints.http.request_log import with_request_log
from entrypoints.http.scores import ScoreController
from entrypoints.http.setlists import SetlistController
from entrypoints.observability import configure_logging
from entrypoints.settings import Settings
from entrypoints.worker.process import housekeeping_schedule, kick_periodic_tasks
from entrypoints.worker.runtime import build_runtime

logger = logging.getLogger(__name__)


class MetricsController(PrometheusController):
    """Prometheus scrapes `GET /metrics`, with `Authorization: Bearer <SCOREMATE_METRICS_TOKEN>` when that is set."""

    path = "/metrics"
    include_in_schema = False
    guards = [scraper_only]


API_PREFIX = "/api/v1"


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
    broker, container = build_runtime(settings, HttpProvider(), LitestarProvider())
    api = DishkaRouter(
        API_PREFIX,
        route_handlers=[AccountController, FileController, ScoreController, SetlistController, DashboardController],
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
        async with _running(settings, broker, container):
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
        cors_config=CORSConfig(allow_origins=list(settings.cors_allow_origins))
        if settings.cors_allow_origins
        else None,
        openapi_config=OpenAPIConfig(
            title="ScoreMate API",
            version="1.0.0",
            description=DESCRIPTION,
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
    setup_dishka(container, app)
    app.asgi_handler = with_request_log(app.asgi_handler)
    return app


@contextlib.asynccontextmanager
async def _running(settings: Settings, broker: AsyncBroker, container: AsyncContainer) -> AsyncIterator[None]:
    """Start what the API process owns; on the embedded default that includes tasks and housekeeping."""
    embedded = not settings.redis_url
    if settings.effective_database_url.startswith("sqlite"):
        await migrate(settings.effective_database_url)
    await asyncio.to_thread(head_revision)  # reads the migration scripts once, off the loop, for readiness checks
    try:
        await broker.startup()
    except Exception:
        if embedded:
            raise
        # The API still serves what needs no queue; /health/ready reports the queue until Redis answers.
        logger.exception("the task broker is unavailable at start")
    stop = asyncio.Event()
    housekeeping: asyncio.Task[None] | None = None
    if not embedded:
        try:
            async with container() as request:
                await (await request.get(RebuildLostQuota))()  # a new deployment, or Redis lost it
        except Exception:
            logger.exception("could not check the quota ledger at start; the workers' housekeeping will")
    if embedded:
        await container.get(PdfRenderer)  # starts the render processes now rather than for the first score
        async with container() as request:
            await (await request.get(ReconcileQuota))()
            await (await request.get(ResumeUnfinishedWork))()
        housekeeping = asyncio.create_task(kick_periodic_tasks(broker, housekeeping_schedule(settings), stop))
    try:
        yield
    finally:
        stop.set()
        if housekeeping is not None:
            await housekeeping
        await broker.shutdown()
        await container.close()
