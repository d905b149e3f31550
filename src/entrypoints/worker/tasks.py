"""Task functions: decode the arguments, call one use case. They are idempotent (delivery is at least once)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from uuid import UUID

from dishka import AsyncContainer
from dishka.integrations.taskiq import FromDishka, inject
from taskiq import AsyncBroker, TaskiqMessage

from adapters.taskiq.names import SCORE_TASKS, TaskName
from application.duplicates import BackfillChecksums
from application.maintenance import (
    ClearEndedUploads,
    ExpireReservations,
    PurgeUnusedUploads,
    RebuildLostQuota,
    ReconcileQuota,
    SweepStuckScores,
)
from application.processing import (
    DeleteFiles,
    GenerateAllThumbnails,
    GenerateThumbnail,
    MarkPageThumbnailsFailed,
    MarkProcessingFailed,
    ProcessScore,
)
from application.trash import PurgeTrash


@inject(patch_module=True)
async def process_pdf_info(score_id: str, use_case: FromDishka[ProcessScore]) -> None:
    """Page count and metadata, then the cover thumbnail."""
    await use_case(UUID(score_id))


@inject(patch_module=True)
async def generate_thumbnail(score_id: str, page: int, use_case: FromDishka[GenerateThumbnail]) -> None:
    await use_case(UUID(score_id), page)


@inject(patch_module=True)
async def generate_all_page_thumbnails(score_id: str, use_case: FromDishka[GenerateAllThumbnails]) -> None:
    await use_case(UUID(score_id))


@inject(patch_module=True)
async def delete_score_files(keys: list[str], prefix: str | None, use_case: FromDishka[DeleteFiles]) -> None:
    await use_case(keys, prefix)


@inject(patch_module=True)
async def expire_reservations(use_case: FromDishka[ExpireReservations]) -> int:
    return await use_case()


@inject(patch_module=True)
async def purge_unused_uploads(use_case: FromDishka[PurgeUnusedUploads]) -> int:
    return await use_case()


@inject(patch_module=True)
async def clear_ended_uploads(use_case: FromDishka[ClearEndedUploads]) -> int:
    return await use_case()


@inject(patch_module=True)
async def reconcile_quota(use_case: FromDishka[ReconcileQuota]) -> int:
    return await use_case()


@inject(patch_module=True)
async def rebuild_lost_quota(use_case: FromDishka[RebuildLostQuota]) -> int:
    return await use_case()


@inject(patch_module=True)
async def sweep_stuck_scores(use_case: FromDishka[SweepStuckScores]) -> int:
    return await use_case()


@inject(patch_module=True)
async def backfill_checksums(use_case: FromDishka[BackfillChecksums]) -> int:
    return await use_case()


@inject(patch_module=True)
async def purge_trash(use_case: FromDishka[PurgeTrash]) -> int:
    return await use_case()


TASKS: dict[TaskName, Callable[..., Coroutine[Any, Any, Any]]] = {
    TaskName.PROCESS_PDF_INFO: process_pdf_info,
    TaskName.GENERATE_THUMBNAIL: generate_thumbnail,
    TaskName.GENERATE_ALL_PAGE_THUMBNAILS: generate_all_page_thumbnails,
    TaskName.DELETE_SCORE_FILES: delete_score_files,
    TaskName.EXPIRE_RESERVATIONS: expire_reservations,
    TaskName.PURGE_UNUSED_UPLOADS: purge_unused_uploads,
    TaskName.CLEAR_ENDED_UPLOADS: clear_ended_uploads,
    TaskName.RECONCILE_QUOTA: reconcile_quota,
    TaskName.REBUILD_LOST_QUOTA: rebuild_lost_quota,
    TaskName.SWEEP_STUCK_SCORES: sweep_stuck_scores,
    TaskName.BACKFILL_CHECKSUMS: backfill_checksums,
    TaskName.PURGE_TRASH: purge_trash,
}


def register_tasks(broker: AsyncBroker) -> None:
    for name, function in TASKS.items():
        broker.register_task(function, task_name=str(name))


def give_up_handler(container: AsyncContainer) -> Callable[[TaskiqMessage, BaseException], Coroutine[Any, Any, None]]:
    """After the last retry of a score task, the score says that processing failed instead of hanging."""

    async def on_give_up(message: TaskiqMessage, error: BaseException) -> None:
        if message.task_name not in SCORE_TASKS or not message.args:
            return
        score_id = UUID(str(message.args[0]))
        async with container() as request:
            if message.task_name == TaskName.GENERATE_ALL_PAGE_THUMBNAILS:
                await (await request.get(MarkPageThumbnailsFailed))(score_id)
            else:
                await (await request.get(MarkProcessingFailed))(score_id)

    return on_give_up
