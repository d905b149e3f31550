"""Liveness and readiness."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from dishka.integrations.litestar import FromDishka
from litestar import Controller, Response, get
from litestar.openapi.datastructures import ResponseSpec

from application.ports import Database, ObjectStorage, QuotaLedger, TaskQueue
from entrypoints.http.openapi import PublicOperation
from entrypoints.http.schemas import HealthBody

CHECK_TIMEOUT_SECONDS = 3.0
logger = logging.getLogger(__name__)


async def _probe(check: Callable[[], Awaitable[object]]) -> str:
    try:
        await asyncio.wait_for(check(), timeout=CHECK_TIMEOUT_SECONDS)
    except Exception as error:
        # Names the kind of failure only: the message may carry hosts and paths that are nobody else's business.
        logger.warning("readiness check failed: %r", error)
        return f"error: {type(error).__name__}"
    return "ok"


class HealthController(Controller):
    path = "/health"
    tags = ["Operations"]
    security = []

    @get("/", summary="Liveness", operation_id="liveness", operation_class=PublicOperation)
    async def live(self) -> HealthBody:
        """Answers `{"status": "ok"}` while the process serves requests; it checks nothing else."""
        return HealthBody(status="ok")

    @get(
        "/ready",
        summary="Readiness: database, storage, quota ledger and queue",
        operation_id="readiness",
        operation_class=PublicOperation,
        responses={
            503: ResponseSpec(
                HealthBody,
                description="Something failed: `status` is `unavailable` and `checks` says what.",
                generate_examples=False,
            )
        },
    )
    async def ready(
        self,
        database: FromDishka[Database],
        storage: FromDishka[ObjectStorage],
        ledger: FromDishka[QuotaLedger],
        queue: FromDishka[TaskQueue],
    ) -> Response[HealthBody]:
        """200 when the database (migrated to this version's schema), storage, the quota ledger and the task
        queue all answer within 3 s, else 503; `checks` says `ok` or the error of each."""

        names = ("database", "storage", "quota", "queue")
        results = await asyncio.gather(*(_probe(c) for c in (database.check, storage.check, ledger.check, queue.check)))
        checks = dict(zip(names, results, strict=True))
        healthy = all(result == "ok" for result in results)
        return Response(
            HealthBody(status="ok" if healthy else "unavailable", checks=checks), status_code=200 if healthy else 503
        )
