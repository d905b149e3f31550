"""A `World` of fakes wired like the composition root, with shortcuts to reach common starting states."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from uuid import UUID

import pytest

from adapters.memory import InMemoryQuotaLedger, InMemoryRateLimiter
from application.accounts import Authenticate, GetAccount, LogIn, RegisterUser
from application.aftercare import UploadAftercare
from application.dashboard import GetDashboard
from application.maintenance import (
    ClearEndedUploads,
    ExpireReservations,
    PurgeUnusedUploads,
    RebuildLostQuota,
    ReconcileQuota,
    ResumeUnfinishedWork,
    SweepStuckScores,
    UploadRetirement,
)
from application.policy import Policy
from application.ports import RateRule
from application.processing import (
    DeleteFiles,
    GenerateAllThumbnails,
    GenerateThumbnail,
    MarkPageThumbnailsFailed,
    MarkProcessingFailed,
    ProcessScore,
    ScoreUpdater,
    ThumbnailWriter,
)
from application.scores import (
    CreateScore,
    DeleteScore,
    GetDownloadUrl,
    GetScore,
    ListScores,
    RequestCover,
    RequestInfoRefresh,
    RequestPageThumbnails,
    UpdateScore,
)
from application.setlists import (
    AddSetlistItem,
    CreateSetlist,
    DeleteSetlist,
    GetSetlist,
    ListSetlists,
    RemoveSetlistItem,
    ReorderSetlistItems,
    UpdateSetlist,
    UpdateSetlistItem,
)
from application.uploads import CancelUpload, ConfirmUpload, RequestUploadUrl, UploadVerifier
from domain.pdf import PdfInfo, PdfMetadata
from domain.scores import DetailChanges, Score
from domain.setlists import Setlist
from domain.uploads import Upload
from domain.users import User
from tests.unit.fakes import (
    FakeClock,
    FakeDatabase,
    FakeHasher,
    FakeQueue,
    FakeRenderer,
    FakeScratchSpace,
    FakeStorage,
    FakeTokens,
    FakeUnitOfWork,
)

PASSWORD = "correct horse battery"

TEST_POLICY = Policy(
    default_quota_bytes=100_000,
    max_upload_bytes=50_000,
    presign_expiry_seconds=300,
    reservation_ttl_seconds=3600,
    login_failure_rule=RateRule(limit=3, window_seconds=60),
    login_address_failure_rule=RateRule(limit=3, window_seconds=60),
    upload_rate_rule=RateRule(limit=20, window_seconds=60),
)


def pdf_bytes(size: int, magic_offset: int = 0) -> bytes:
    """`size` bytes with the PDF signature at `magic_offset`."""
    body = b" " * magic_offset + b"%PDF-1.7\n"
    if len(body) > size:
        raise ValueError("size too small for the signature at that offset")
    return body + b"x" * (size - len(body))


@dataclass
class World:
    clock: FakeClock = field(default_factory=FakeClock)
    policy: Policy = TEST_POLICY
    db: FakeDatabase = field(default_factory=FakeDatabase)
    queue: FakeQueue = field(default_factory=FakeQueue)
    renderer: FakeRenderer = field(default_factory=FakeRenderer)
    hasher: FakeHasher = field(default_factory=FakeHasher)
    tokens: FakeTokens = field(default_factory=FakeTokens)

    def __post_init__(self) -> None:
        self.uow = FakeUnitOfWork(self.db)
        self.storage = FakeStorage(self.clock)
        self.scratch = FakeScratchSpace(self.storage)
        self.ledger = InMemoryQuotaLedger(clock=self.clock.timestamp)
        self.limiter = InMemoryRateLimiter(clock=self.clock.timestamp)
        self._emails = 0

    def wipe_ledger(self) -> None:
        """As if Redis lost its data: use cases built from now on see an empty ledger."""
        self.ledger = InMemoryQuotaLedger(clock=self.clock.timestamp)

    # --- use cases (built fresh, so they see the current fakes and policy) ---------------------------

    @property
    def register_user(self) -> RegisterUser:
        return RegisterUser(self.uow, self.hasher, self.limiter, self.clock, self.policy)

    @property
    def log_in(self) -> LogIn:
        return LogIn(self.uow, self.hasher, self.tokens, self.limiter, self.policy)

    @property
    def authenticate(self) -> Authenticate:
        return Authenticate(self.tokens)

    @property
    def get_account(self) -> GetAccount:
        return GetAccount(self.uow, self.ledger, self.clock)

    @property
    def request_upload_url(self) -> RequestUploadUrl:
        return RequestUploadUrl(self.uow, self.ledger, self.storage, self.limiter, self.clock, self.policy)

    @property
    def verifier(self) -> UploadVerifier:
        return UploadVerifier(self.storage, self.ledger, self.aftercare, self.clock)

    @property
    def confirm_upload(self) -> ConfirmUpload:
        return ConfirmUpload(self.uow, self.verifier)

    @property
    def cancel_upload(self) -> CancelUpload:
        return CancelUpload(self.uow, self.aftercare, self.clock)

    @property
    def create_score(self) -> CreateScore:
        return CreateScore(self.uow, self.verifier, self.queue, self.clock)

    @property
    def get_score(self) -> GetScore:
        return GetScore(self.uow)

    @property
    def list_scores(self) -> ListScores:
        return ListScores(self.uow)

    @property
    def update_score(self) -> UpdateScore:
        return UpdateScore(self.uow, self.clock)

    @property
    def delete_score(self) -> DeleteScore:
        return DeleteScore(self.uow, self.aftercare, self.clock)

    @property
    def request_info_refresh(self) -> RequestInfoRefresh:
        return RequestInfoRefresh(self.uow, self.queue, self.clock)

    @property
    def request_cover(self) -> RequestCover:
        return RequestCover(self.uow, self.queue, self.clock)

    @property
    def request_page_thumbnails(self) -> RequestPageThumbnails:
        return RequestPageThumbnails(self.uow, self.queue)

    @property
    def get_download_url(self) -> GetDownloadUrl:
        return GetDownloadUrl(self.uow, self.storage, self.policy)

    @property
    def updater(self) -> ScoreUpdater:
        return ScoreUpdater(self.uow, self.clock)

    @property
    def thumbnails(self) -> ThumbnailWriter:
        return ThumbnailWriter(self.renderer, self.storage, self.updater, self.clock)

    @property
    def process_score(self) -> ProcessScore:
        return ProcessScore(self.updater, self.scratch, self.renderer, self.thumbnails)

    @property
    def generate_thumbnail(self) -> GenerateThumbnail:
        return GenerateThumbnail(self.updater, self.scratch, self.thumbnails)

    @property
    def generate_all_thumbnails(self) -> GenerateAllThumbnails:
        return GenerateAllThumbnails(self.updater, self.scratch, self.renderer, self.thumbnails, self.policy)

    @property
    def mark_processing_failed(self) -> MarkProcessingFailed:
        return MarkProcessingFailed(self.updater)

    @property
    def mark_page_thumbnails_failed(self) -> MarkPageThumbnailsFailed:
        return MarkPageThumbnailsFailed(self.updater)

    @property
    def delete_files(self) -> DeleteFiles:
        return DeleteFiles(self.storage)

    @property
    def expire_reservations(self) -> ExpireReservations:
        return ExpireReservations(self.retirement, self.clock, self.policy)

    @property
    def purge_unused_uploads(self) -> PurgeUnusedUploads:
        return PurgeUnusedUploads(self.retirement, self.clock, self.policy)

    @property
    def clear_ended_uploads(self) -> ClearEndedUploads:
        return ClearEndedUploads(self.uow, self.storage, self.clock, self.policy)

    @property
    def retirement(self) -> UploadRetirement:
        return UploadRetirement(self.uow, self.aftercare)

    @property
    def aftercare(self) -> UploadAftercare:
        return UploadAftercare(self.ledger, self.storage, self.queue)

    @property
    def reconcile_quota(self) -> ReconcileQuota:
        return ReconcileQuota(self.uow, self.ledger, self.clock)

    @property
    def rebuild_lost_quota(self) -> RebuildLostQuota:
        return RebuildLostQuota(self.reconcile_quota, self.ledger)

    @property
    def sweep_stuck_scores(self) -> SweepStuckScores:
        return SweepStuckScores(self.uow, self.queue, self.clock, self.policy)

    @property
    def resume_unfinished_work(self) -> ResumeUnfinishedWork:
        return ResumeUnfinishedWork(self.uow, self.queue, self.clock, self.policy)

    @property
    def get_dashboard(self) -> GetDashboard:
        return GetDashboard(self.uow, self.ledger, self.clock)

    @property
    def create_setlist(self) -> CreateSetlist:
        return CreateSetlist(self.uow, self.clock)

    @property
    def list_setlists(self) -> ListSetlists:
        return ListSetlists(self.uow)

    @property
    def get_setlist(self) -> GetSetlist:
        return GetSetlist(self.uow)

    @property
    def update_setlist(self) -> UpdateSetlist:
        return UpdateSetlist(self.uow, self.clock)

    @property
    def delete_setlist(self) -> DeleteSetlist:
        return DeleteSetlist(self.uow)

    @property
    def add_setlist_item(self) -> AddSetlistItem:
        return AddSetlistItem(self.uow, self.clock)

    @property
    def update_setlist_item(self) -> UpdateSetlistItem:
        return UpdateSetlistItem(self.uow, self.clock)

    @property
    def remove_setlist_item(self) -> RemoveSetlistItem:
        return RemoveSetlistItem(self.uow, self.clock)

    @property
    def reorder_setlist_items(self) -> ReorderSetlistItems:
        return ReorderSetlistItems(self.uow, self.clock)

    # --- shortcuts to starting states ---------------------------------------------------------------

    async def user(self, email: str | None = None) -> User:
        if email is None:
            self._emails += 1
            email = f"musician{self._emails}@example.com"
        account = await self.register_user(email, PASSWORD)
        return account.user

    async def pending_upload(self, user: User, size: int = 1000, content: bytes | None = None) -> Upload:
        """An upload whose bytes are in storage (`content`, default a valid PDF of `size` bytes)."""
        ticket = await self.request_upload_url(user.id, "score.pdf", "application/pdf", size)
        self.storage.objects[ticket.upload.storage_key] = pdf_bytes(size) if content is None else content
        return ticket.upload

    async def confirmed_upload(self, user: User, size: int = 1000) -> Upload:
        upload = await self.pending_upload(user, size)
        return await self.confirm_upload(user.id, upload.id)

    async def score(self, user: User, title: str = "Sonata", size: int = 1000, **details: object) -> Score:
        upload = await self.pending_upload(user, size)
        return await self.create_score(user.id, upload.id, DetailChanges(title=title, **details))  # type: ignore[arg-type]

    async def choose_cover(self, user: User, score: Score, page: int) -> None:
        """POST regenerate_thumbnail, and its task."""
        await self.request_cover(user.id, score.id, page)
        await self.generate_thumbnail(score.id, page)

    async def processed_score(
        self, user: User, pages: int = 3, metadata: PdfMetadata | None = None, title: str = "Sonata"
    ) -> Score:
        score = await self.score(user, title=title)
        self.renderer.infos[score.storage_key] = PdfInfo(pages, metadata or PdfMetadata())
        await self.process_score(score.id)
        return self.stored_score(score.id)

    async def setlist(self, user: User, name: str = "Recital") -> Setlist:
        return (await self.create_setlist(user.id, name, None)).setlist

    def stored_score(self, score_id: UUID) -> Score:
        return copy.deepcopy(self.db.scores[score_id])

    def stored_upload(self, upload_id: UUID) -> Upload:
        return copy.deepcopy(self.db.uploads[upload_id])

    def stored_setlist(self, setlist_id: UUID) -> Setlist:
        return copy.deepcopy(self.db.setlists[setlist_id])

    def put_score(self, score: Score) -> None:
        """Write a changed score straight into the committed state (as another process would)."""
        self.db.scores[score.id] = copy.deepcopy(score)

    async def usage(self, user_id: UUID) -> tuple[int, int]:
        return await self.ledger.usage(user_id)


@pytest.fixture
def world() -> World:
    return World()
