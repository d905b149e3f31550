"""Domain objects and use-case results -> response bodies."""

from __future__ import annotations

from typing import cast

from msgspec.structs import asdict

from application.accounts import Account
from application.admin import ManagedAccount
from application.dashboard import Dashboard
from application.ports import DuplicateGroup, Page, ScoreListing, ScoreSummary, SiteStats
from application.setlists import SetlistView
from application.trash import TrashedScore
from domain.pdf import PdfMetadata
from domain.quota import QuotaUsage
from domain.scores import ProcessingStatus, Score
from domain.setlists import Setlist, SetlistItem
from domain.uploads import Upload
from entrypoints.http import schemas


def quota_body(quota: QuotaUsage) -> schemas.Quota:
    return schemas.Quota(quota.limit_bytes, quota.used_bytes, quota.reserved_bytes, quota.available_bytes)


def user_body(account: Account) -> schemas.UserBody:
    user = account.user
    return schemas.UserBody(
        user.id, user.email, user.username, user.is_admin, user.is_active, user.created_at, quota_body(account.quota)
    )


def managed_user_body(account: ManagedAccount) -> schemas.ManagedUserBody:
    user = account.user
    return schemas.ManagedUserBody(
        user.id,
        user.email,
        user.username,
        user.is_admin,
        user.is_active,
        user.created_at,
        quota_body(account.quota),
        account.score_count,
        account.trash_bytes,
    )


def processing_counts(counts: dict[ProcessingStatus, int]) -> schemas.ProcessingCounts:
    return schemas.ProcessingCounts(
        pending=counts.get(ProcessingStatus.PENDING, 0),
        processing=counts.get(ProcessingStatus.PROCESSING, 0),
        failed=counts.get(ProcessingStatus.FAILED, 0),
    )


def site_stats_body(stats: SiteStats) -> schemas.SiteStatsBody:
    return schemas.SiteStatsBody(
        user_count=stats.user_count,
        active_user_count=stats.active_user_count,
        score_count=stats.score_count,
        trash_score_count=stats.trash_score_count,
        stored_bytes=stats.stored_bytes,
        reserved_bytes=stats.reserved_bytes,
        processing=processing_counts(stats.processing_counts),
    )


def upload_body(upload: Upload) -> schemas.UploadBody:
    status = cast(schemas.UploadState, upload.status.value)
    return schemas.UploadBody(
        upload.id, status, upload.filename, upload.size_bytes, upload.storage_key, upload.created_at
    )


def metadata_body(metadata: PdfMetadata | None) -> schemas.PdfMetadataBody | None:
    if metadata is None:
        return None
    return schemas.PdfMetadataBody(
        metadata.title,
        metadata.author,
        metadata.subject,
        metadata.keywords,
        metadata.creator,
        metadata.producer,
        metadata.creation_date,
        metadata.modification_date,
    )


def score_body(score: Score | ScoreListing) -> schemas.ScoreBody:
    if isinstance(score, Score):
        score = ScoreListing.of(score)
    # Positional, in the struct's field order: a page builds 20 of these per request.
    return schemas.ScoreBody(
        score.id,
        score.upload_id,
        score.title,
        score.composer,
        score.genre,
        list(score.tags),
        score.description,
        score.original_filename,
        score.size_bytes,
        score.page_count,
        metadata_body(score.pdf_metadata),
        score.processing_status,
        score.processing_error,
        score.processing_error_code,
        score.thumbnail_ready,
        score.page_thumbnails_ready,
        score.created_at,
        score.updated_at,
        score.checksum_sha256,
    )


def duplicate_page(page: Page[DuplicateGroup]) -> schemas.DuplicatePage:
    groups = [
        schemas.DuplicateGroupBody(group.checksum_sha256, group.size_bytes, [score_body(s) for s in group.scores])
        for group in page.items
    ]
    return schemas.DuplicatePage(groups, page.total, page.limit, page.offset)


def trashed_score_body(trashed: TrashedScore) -> schemas.TrashedScoreBody:
    return schemas.TrashedScoreBody(
        **asdict(score_body(trashed.score)), deleted_at=trashed.deleted_at, purge_at=trashed.purge_at
    )


def summary_body(summary: ScoreSummary) -> schemas.ScoreSummaryBody:
    return schemas.ScoreSummaryBody(
        summary.id, summary.title, summary.composer, summary.page_count, summary.thumbnail_ready
    )


def item_body(item: SetlistItem, summary: ScoreSummary) -> schemas.SetlistItemBody:
    return schemas.SetlistItemBody(item.id, item.score_id, item.position, item.notes, summary_body(summary))


def setlist_body(setlist: Setlist) -> schemas.SetlistBody:
    return schemas.SetlistBody(
        setlist.id,
        setlist.name,
        setlist.description,
        len(setlist.visible_items),
        setlist.created_at,
        setlist.updated_at,
    )


def setlist_with_items(view: SetlistView) -> schemas.SetlistBody:
    body = setlist_body(view.setlist)
    # An item whose score was deleted while the setlist was read is left out, as the next read will.
    items = [item for item in view.setlist.visible_items if item.score_id in view.summaries]
    body.items = [item_body(item, view.summaries[item.score_id]) for item in items]
    return body


def dashboard_body(dashboard: Dashboard) -> schemas.DashboardBody:
    counts = dashboard.stats.processing_counts
    return schemas.DashboardBody(
        quota=quota_body(dashboard.quota),
        score_count=dashboard.stats.score_count,
        setlist_count=dashboard.stats.setlist_count,
        total_pages=dashboard.stats.total_pages,
        processing=schemas.ProcessingCounts(
            pending=counts.get(ProcessingStatus.PENDING, 0),
            processing=counts.get(ProcessingStatus.PROCESSING, 0),
            failed=counts.get(ProcessingStatus.FAILED, 0),
        ),
        trash=schemas.TrashCounts(dashboard.stats.trash_score_count, dashboard.stats.trash_bytes),
        recent_scores=[score_body(score) for score in dashboard.recent_scores],
    )
