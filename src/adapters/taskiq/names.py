"""Task names shared by the queue (which sends) and the worker (which registers the functions)."""

from __future__ import annotations

from enum import StrEnum


class TaskName(StrEnum):
    PROCESS_PDF_INFO = "scoremate.process_pdf_info"
    GENERATE_THUMBNAIL = "scoremate.generate_thumbnail"
    GENERATE_ALL_PAGE_THUMBNAILS = "scoremate.generate_all_page_thumbnails"
    DELETE_SCORE_FILES = "scoremate.delete_score_files"
    EXPIRE_RESERVATIONS = "scoremate.expire_reservations"
    PURGE_UNUSED_UPLOADS = "scoremate.purge_unused_uploads"
    CLEAR_ENDED_UPLOADS = "scoremate.clear_ended_uploads"
    RECONCILE_QUOTA = "scoremate.reconcile_quota"
    REBUILD_LOST_QUOTA = "scoremate.rebuild_lost_quota"
    SWEEP_STUCK_SCORES = "scoremate.sweep_stuck_scores"
    BACKFILL_CHECKSUMS = "scoremate.backfill_checksums"
    PURGE_TRASH = "scoremate.purge_trash"


SCORE_TASKS = frozenset(
    {
        TaskName.PROCESS_PDF_INFO,
        TaskName.GENERATE_THUMBNAIL,
        TaskName.GENERATE_ALL_PAGE_THUMBNAILS,
    }
)
