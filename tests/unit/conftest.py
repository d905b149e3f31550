"""A `World` of fakes wired like the composition root, with shortcuts to reach common starting states."""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field, replace
from typing import TypeVar
from uuid import UUID

import pytest
from dishka import Container, Provider, Scope, from_context, make_container, provide

from adapters.memory import InMemoryQuotaLedger, InMemoryRateLimiter
from application.accounts import Authenticate, GetAccount, InactiveAccounts, LogIn, RegisterUser
from application.admin import ChangeUser, CreateUser, GetSiteStats, GetUser, ListUsers
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
from application.ports import (
    Clock,
    ObjectStorage,
    PasswordHasher,
    PdfRenderer,
    QuotaLedger,
    RateLimiter,
    RateRule,
    ScratchSpace,
    TaskQueue,
    TokenIssuer,
    UnitOfWork,
)
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
from application.trash import DeleteFromTrash, EmptyTrash, ListTrash, PurgeTrash, RestoreScore
from application.uploads import CancelUpload, ConfirmUpload, RequestUploadUrl, UploadVerifier
from domain.pdf import PdfInfo, PdfMetadata
from domain.scores import DetailChanges, Score
from domain.setlists import Setlist
from domain.uploads import Upload
from domain.users import User
from entrypoints.use_cases import UseCaseProvider
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
T = TypeVar("T")

TEST_POLICY = Policy(
    default_quota_bytes=100_000,
    max_upload_bytes=50_000,
    presign_expiry_seconds=300,
    reservation_ttl_seconds=3600,
    login_failure_rule=RateRule(limit=3, window_seconds=60),
    login_address_failure_rule=RateRule(limit=6, window_seconds=60),
    login_email_failure_rule=RateRule(limit=5, window_seconds=3600),
    login_guarded_failures=2,
    upload_rate_rule=RateRule(limit=20, window_seconds=60),
    # No trash: deleting is permanent, as the tests of deletion's aftercare expect; tests/unit/test_use_cases_trash.py
    # keeps one (TRASH_POLICY).
    trash_retention_days=0,
)
TRASH_POLICY = replace(TEST_POLICY, trash_retention_days=30)


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
        self.inactive_accounts = InactiveAccounts(self.policy)  # as one API process knows them
        self._emails = 0

    def get(self, use_case: type[T]) -> T:
        """A use case wired by the composition root's own provider, from the fakes as they are now."""
        with use_case_container()(context={World: self}) as request:
            return request.get(use_case)

    def wipe_ledger(self) -> None:
        """As if Redis lost its data: use cases built from now on see an empty ledger."""
        self.ledger = InMemoryQuotaLedger(clock=self.clock.timestamp)

    # --- use cases (built fresh, so they see the current fakes and policy) ---------------------------

    @property
    def register_user(self) -> RegisterUser:
        return self.get(RegisterUser)

    @property
    def log_in(self) -> LogIn:
        return self.get(LogIn)

    @property
    def authenticate(self) -> Authenticate:
        return self.get(Authenticate)

    @property
    def get_account(self) -> GetAccount:
        return self.get(GetAccount)

    @property
    def list_users(self) -> ListUsers:
        return self.get(ListUsers)

    @property
    def get_user(self) -> GetUser:
        return self.get(GetUser)

    @property
    def change_user(self) -> ChangeUser:
        return self.get(ChangeUser)

    @property
    def create_user(self) -> CreateUser:
        return self.get(CreateUser)

    @property
    def get_site_stats(self) -> GetSiteStats:
        return self.get(GetSiteStats)

    @property
    def request_upload_url(self) -> RequestUploadUrl:
        return self.get(RequestUploadUrl)

    @property
    def verifier(self) -> UploadVerifier:
        return self.get(UploadVerifier)

    @property
    def confirm_upload(self) -> ConfirmUpload:
        return self.get(ConfirmUpload)

    @property
    def cancel_upload(self) -> CancelUpload:
        return self.get(CancelUpload)

    @property
    def create_score(self) -> CreateScore:
        return self.get(CreateScore)

    @property
    def get_score(self) -> GetScore:
        return self.get(GetScore)

    @property
    def list_scores(self) -> ListScores:
        return self.get(ListScores)

    @property
    def update_score(self) -> UpdateScore:
        return self.get(UpdateScore)

    @property
    def delete_score(self) -> DeleteScore:
        return self.get(DeleteScore)

    @property
    def list_trash(self) -> ListTrash:
        return self.get(ListTrash)

    @property
    def restore_score(self) -> RestoreScore:
        return self.get(RestoreScore)

    @property
    def delete_from_trash(self) -> DeleteFromTrash:
        return self.get(DeleteFromTrash)

    @property
    def empty_trash(self) -> EmptyTrash:
        return self.get(EmptyTrash)

    @property
    def purge_trash(self) -> PurgeTrash:
        return self.get(PurgeTrash)

    @property
    def request_info_refresh(self) -> RequestInfoRefresh:
        return self.get(RequestInfoRefresh)

    @property
    def request_cover(self) -> RequestCover:
        return self.get(RequestCover)

    @property
    def request_page_thumbnails(self) -> RequestPageThumbnails:
        return self.get(RequestPageThumbnails)

    @property
    def get_download_url(self) -> GetDownloadUrl:
        return self.get(GetDownloadUrl)

    @property
    def updater(self) -> ScoreUpdater:
        return self.get(ScoreUpdater)

    @property
    def thumbnails(self) -> ThumbnailWriter:
        return self.get(ThumbnailWriter)

    @property
    def process_score(self) -> ProcessScore:
        return self.get(ProcessScore)

    @property
    def generate_thumbnail(self) -> GenerateThumbnail:
        return self.get(GenerateThumbnail)

    @property
    def generate_all_thumbnails(self) -> GenerateAllThumbnails:
        return self.get(GenerateAllThumbnails)

    @property
    def mark_processing_failed(self) -> MarkProcessingFailed:
        return self.get(MarkProcessingFailed)

    @property
    def mark_page_thumbnails_failed(self) -> MarkPageThumbnailsFailed:
        return self.get(MarkPageThumbnailsFailed)

    @property
    def delete_files(self) -> DeleteFiles:
        return self.get(DeleteFiles)

    @property
    def expire_reservations(self) -> ExpireReservations:
        return self.get(ExpireReservations)

    @property
    def purge_unused_uploads(self) -> PurgeUnusedUploads:
        return self.get(PurgeUnusedUploads)

    @property
    def clear_ended_uploads(self) -> ClearEndedUploads:
        return self.get(ClearEndedUploads)

    @property
    def retirement(self) -> UploadRetirement:
        return self.get(UploadRetirement)

    @property
    def aftercare(self) -> UploadAftercare:
        return self.get(UploadAftercare)

    @property
    def reconcile_quota(self) -> ReconcileQuota:
        return self.get(ReconcileQuota)

    @property
    def rebuild_lost_quota(self) -> RebuildLostQuota:
        return self.get(RebuildLostQuota)

    @property
    def sweep_stuck_scores(self) -> SweepStuckScores:
        return self.get(SweepStuckScores)

    @property
    def resume_unfinished_work(self) -> ResumeUnfinishedWork:
        return self.get(ResumeUnfinishedWork)

    @property
    def get_dashboard(self) -> GetDashboard:
        return self.get(GetDashboard)

    @property
    def create_setlist(self) -> CreateSetlist:
        return self.get(CreateSetlist)

    @property
    def list_setlists(self) -> ListSetlists:
        return self.get(ListSetlists)

    @property
    def get_setlist(self) -> GetSetlist:
        return self.get(GetSetlist)

    @property
    def update_setlist(self) -> UpdateSetlist:
        return self.get(UpdateSetlist)

    @property
    def delete_setlist(self) -> DeleteSetlist:
        return self.get(DeleteSetlist)

    @property
    def add_setlist_item(self) -> AddSetlistItem:
        return self.get(AddSetlistItem)

    @property
    def update_setlist_item(self) -> UpdateSetlistItem:
        return self.get(UpdateSetlistItem)

    @property
    def remove_setlist_item(self) -> RemoveSetlistItem:
        return self.get(RemoveSetlistItem)

    @property
    def reorder_setlist_items(self) -> ReorderSetlistItems:
        return self.get(ReorderSetlistItems)

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

    async def usage_once_urls_lapse(self, user_id: UUID) -> tuple[int, int]:
        """The usage once every upload URL issued so far has lapsed and housekeeping cleared the ended uploads'
        storage: until then an ended upload's bytes stay reserved (its URL may still store a file)."""
        self.clock.advance(2 * self.policy.presign_expiry_seconds + 1)
        await self.clear_ended_uploads()
        return await self.usage(user_id)


class FakesProvider(Provider):
    """The ports, as the fakes of the request's world are at the moment a use case is asked for."""

    scope = Scope.REQUEST
    world = from_context(provides=World, scope=Scope.REQUEST)

    @provide
    def inactive_accounts(self, world: World) -> InactiveAccounts:
        return world.inactive_accounts

    @provide
    def uow(self, world: World) -> UnitOfWork:
        return world.uow

    @provide
    def clock(self, world: World) -> Clock:
        return world.clock

    @provide
    def policy(self, world: World) -> Policy:
        return world.policy

    @provide
    def storage(self, world: World) -> ObjectStorage:
        return world.storage

    @provide
    def scratch(self, world: World) -> ScratchSpace:
        return world.scratch

    @provide
    def renderer(self, world: World) -> PdfRenderer:
        return world.renderer

    @provide
    def ledger(self, world: World) -> QuotaLedger:
        return world.ledger

    @provide
    def limiter(self, world: World) -> RateLimiter:
        return world.limiter

    @provide
    def queue(self, world: World) -> TaskQueue:
        return world.queue

    @provide
    def hasher(self, world: World) -> PasswordHasher:
        return world.hasher

    @provide
    def tokens(self, world: World) -> TokenIssuer:
        return world.tokens


@functools.cache
def use_case_container() -> Container:
    """Built once: the graph is the same for every world, which each request brings as its context."""
    return make_container(UseCaseProvider(), FakesProvider())


@pytest.fixture
def world() -> World:
    return World()
