"""The ports: what the use cases need from the outside world, as Protocols."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar
from uuid import UUID

from domain.pdf import PdfInfo, PdfMetadata, RenderPriority
from domain.quota import QuotaUsage
from domain.scores import ProcessingStatus, Score
from domain.setlists import Setlist
from domain.uploads import Upload
from domain.users import User

T = TypeVar("T")


# --- persistence -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreQuery:
    user_id: UUID
    text: str | None = None
    composer: str | None = None
    genre: str | None = None
    tag: str | None = None
    status: ProcessingStatus | None = None
    ordering: str = "-created_at"
    limit: int = 20
    offset: int = 0


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    limit: int
    offset: int


@dataclass(frozen=True, slots=True)
class ScoreListing:
    """A score as the lists show it (the library's pages, the dashboard's newest): what the API answers about it,
    without its storage keys and processing bookkeeping, so that a page reads only these columns."""

    id: UUID
    upload_id: UUID
    title: str
    composer: str | None
    genre: str | None
    tags: list[str]
    description: str | None
    original_filename: str
    size_bytes: int
    page_count: int | None
    pdf_metadata: PdfMetadata | None
    processing_status: ProcessingStatus
    processing_error: str | None
    processing_error_code: str | None
    thumbnail_ready: bool
    page_thumbnails_ready: int
    created_at: datetime
    updated_at: datetime
    checksum_sha256: str | None = None
    deleted_at: datetime | None = None  # in the trash since then

    @classmethod
    def of(cls, score: Score) -> ScoreListing:
        details, processing = score.details, score.processing
        return cls(
            score.id,
            score.upload_id,
            details.title,
            details.composer,
            details.genre,
            list(details.tags),
            details.description,
            score.original_filename,
            score.size_bytes,
            processing.page_count,
            processing.metadata,
            processing.status,
            processing.error,
            processing.error_code,
            score.cover.ready,
            score.page_thumbnails.count,
            score.created_at,
            score.updated_at,
            score.checksum_sha256,
            score.deleted_at,
        )


@dataclass(frozen=True)
class ChecksumMatch:
    """One of the user's scores with a given checksum; in the trash or not."""

    score_id: UUID
    in_trash: bool


@dataclass(frozen=True)
class DuplicateGroup:
    """Two or more of the user's scores, none in the trash, of the same bytes (oldest first)."""

    checksum_sha256: str
    size_bytes: int
    scores: Sequence[ScoreListing]


@dataclass(frozen=True)
class ScoreSummary:
    id: UUID
    title: str
    composer: str | None
    page_count: int | None
    thumbnail_ready: bool


@dataclass(frozen=True)
class LibraryStats:
    """Counts of the library; scores in the trash count only in `trash_score_count` and `trash_bytes`."""

    score_count: int
    setlist_count: int
    total_pages: int
    processing_counts: dict[ProcessingStatus, int] = field(default_factory=dict)
    trash_score_count: int = 0
    trash_bytes: int = 0


@dataclass(frozen=True)
class UserLibraryCounts:
    score_count: int = 0  # scores in the library, not in the trash
    trash_bytes: int = 0  # size of the scores in the trash


@dataclass(frozen=True)
class SiteStats:
    user_count: int
    active_user_count: int
    score_count: int  # in the libraries, not in the trash
    trash_score_count: int
    stored_bytes: int  # confirmed uploads
    reserved_bytes: int  # pending uploads not yet expired
    processing_counts: dict[ProcessingStatus, int] = field(default_factory=dict)


class UserRepository(Protocol):
    async def add(self, user: User) -> None: ...
    async def get(self, user_id: UUID, *, for_update: bool = False) -> User | None:
        """With for_update the row stays locked until the transaction ends (where the database can)."""
        ...

    async def get_by_email(self, email: str) -> User | None: ...
    async def list_ids(self) -> Sequence[UUID]: ...
    async def save(self, user: User) -> None:
        """Store the quota limit and the administrator and active flags."""
        ...

    async def search(self, text: str | None, limit: int, offset: int) -> Page[User]:
        """Users whose email or username contains `text` (ignoring case), oldest first."""
        ...

    async def inactive_ids(self) -> Sequence[UUID]:
        """The ids of the deactivated users."""
        ...


class UploadRepository(Protocol):
    async def add(self, upload: Upload) -> None: ...
    async def get(self, upload_id: UUID, *, for_update: bool = False) -> Upload | None:
        """With for_update the row stays locked until the transaction ends (where the database can)."""
        ...

    async def save(self, upload: Upload) -> None: ...
    async def remove(self, upload: Upload) -> None: ...
    async def list_expired_pending(self, now: datetime, limit: int) -> Sequence[Upload]: ...
    async def list_unused_confirmed(self, confirmed_before: datetime, limit: int) -> Sequence[Upload]: ...
    async def list_to_clear(self, created_before: datetime, limit: int) -> Sequence[Upload]:
        """Ended uploads whose storage is still to be cleared, oldest first."""
        ...

    async def list_live(self, user_id: UUID | None = None) -> Sequence[Upload]:
        """Pending and confirmed uploads, and ended ones whose storage is still to be cleared: what quota accounts
        for (all users when user_id is None)."""
        ...


class ScoreRepository(Protocol):
    """Reads that list or count scores (search, recent, summaries) leave out those in the trash; get does not."""

    async def add(self, score: Score) -> None: ...
    async def get(self, score_id: UUID, *, for_update: bool = False) -> Score | None:
        """With for_update the row stays locked until the transaction ends (where the database can)."""
        ...

    async def save(self, score: Score) -> None: ...
    async def delete(self, score: Score) -> None: ...
    async def search(self, query: ScoreQuery) -> Page[ScoreListing]: ...
    async def recent(self, user_id: UUID, limit: int) -> Sequence[ScoreListing]: ...
    async def summaries(self, user_id: UUID, score_ids: Sequence[UUID]) -> dict[UUID, ScoreSummary]: ...
    async def trash(self, user_id: UUID, limit: int, offset: int) -> Page[ScoreListing]:
        """The user's scores in the trash, most recently deleted first."""
        ...

    async def list_trashed(
        self, limit: int, *, user_id: UUID | None = None, deleted_before: datetime | None = None
    ) -> Sequence[Score]:
        """Scores in the trash (of one user or of all; since before `deleted_before` when given), longest there
        first."""
        ...

    async def list_stuck(self, started_before: datetime, limit: int) -> Sequence[Score]:
        """Scores pending or processing since before the given time."""
        ...

    async def list_wanting_thumbnails(self, after: UUID | None, limit: int) -> Sequence[Score]:
        """Scores with page thumbnails asked for, or a cover wanted (Score.cover_wanted), in id order after `after`."""
        ...

    async def checksum_match(self, user_id: UUID, checksum_sha256: str) -> ChecksumMatch | None:
        """One of the user's scores with this checksum, trashed ones included; one outside the trash first."""
        ...

    async def duplicate_groups(self, user_id: UUID, limit: int, offset: int) -> Page[DuplicateGroup]:
        """The user's groups of two or more scores outside the trash with the same checksum, ordered by their oldest
        score's created_at, then checksum; `total` counts groups."""
        ...

    async def list_without_checksum(self, after: UUID | None, limit: int) -> Sequence[Score]:
        """Processed scores (ready or failed, trashed ones included) that have no checksum yet, in id order after
        `after`."""
        ...


class SetlistRepository(Protocol):
    async def add(self, setlist: Setlist) -> None: ...
    async def get(self, setlist_id: UUID, *, for_update: bool = False) -> Setlist | None: ...
    async def save(self, setlist: Setlist) -> None: ...
    async def delete(self, setlist: Setlist) -> None: ...
    async def search(self, user_id: UUID, text: str | None, limit: int, offset: int) -> Page[Setlist]: ...
    async def containing_score(self, score_id: UUID) -> Sequence[Setlist]: ...


class StatsReader(Protocol):
    async def library_stats(self, user_id: UUID) -> LibraryStats: ...
    async def user_library_counts(self, user_ids: Sequence[UUID]) -> dict[UUID, UserLibraryCounts]:
        """Per user, in one query: scores in the library and bytes in the trash (users without scores left out)."""
        ...

    async def site_stats(self, now: datetime) -> SiteStats:
        """Counts over every user: accounts, scores, stored and reserved bytes, processing."""
        ...


class UnitOfWork(Protocol):
    users: UserRepository
    uploads: UploadRepository
    scores: ScoreRepository
    setlists: SetlistRepository
    stats: StatsReader

    def autocommit(self) -> Self:
        """For the next `async with` only: each statement is its own transaction where the database allows it, with
        no BEGIN and COMMIT sent around them. For units of work whose reads need not agree with each other and that
        write with one statement at most (what `commit` sends is then not undone by an error); no row locks."""
        ...

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...


class Database(Protocol):
    """The database as a whole, for start-up and readiness (the unit of work is for use cases)."""

    async def upgrade(self) -> None:
        """Apply the migrations it lacks; a database already at this version's schema is left alone."""
        ...

    async def check(self) -> None:
        """Raise unless the database answers and has this version's schema."""
        ...


# --- storage -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PresignedRequest:
    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True)
class StoredObject:
    size_bytes: int


class ObjectStorage(Protocol):
    async def presign_upload(self, key: str, content_type: str, size_bytes: int, expires_in: int) -> PresignedRequest:
        """A URL that stores one object of exactly `size_bytes` under `key`, once: it never replaces one."""
        ...

    async def presign_download(self, key: str, expires_in: int, filename: str | None = None) -> PresignedRequest: ...
    async def stat(self, key: str) -> StoredObject | None: ...
    async def read_head(self, key: str, length: int) -> bytes:
        """The first `length` bytes (fewer if the object is shorter), fetched with a ranged read."""
        ...

    async def download_to(self, key: str, destination: Path) -> None: ...
    async def put(self, key: str, data: bytes, content_type: str) -> None: ...
    async def delete(self, key: str) -> None:
        """Remove an object; removing a missing object is not an error."""
        ...

    async def delete_prefix(self, prefix: str) -> None: ...
    async def check(self) -> None:
        """Raise when the storage cannot be reached."""
        ...


# --- quota -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerEntry:
    upload_id: UUID
    size_bytes: int
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Reservation:
    """What `QuotaLedger.reserve` decided; true when granted.

    Refused for the pending bound: `pending` live reservations are held and `retry_after_seconds` from now the
    earliest one whose expiry brings the count under the bound lapses (releasing or confirming one frees a place
    at once). Refused with `pending` None: the bytes would pass the quota limit.
    """

    granted: bool
    pending: int | None = None
    retry_after_seconds: int | None = None

    def __bool__(self) -> bool:
        return self.granted

    @property
    def too_many_pending(self) -> bool:
        return not self.granted and self.pending is not None


GRANTED = Reservation(True)
OVER_QUOTA = Reservation(False)


class QuotaLedger(Protocol):
    """Per-user quota accounting, atomic across API processes.

    Every byte belongs to one item (an upload id): a reservation with its own expiry, or used bytes.
    All operations are idempotent per item.
    """

    async def reserve(
        self,
        user_id: UUID,
        upload_id: UUID,
        size_bytes: int,
        limit_bytes: int,
        ttl_seconds: int,
        max_pending: int | None = None,
    ) -> Reservation:
        """Reserve unless the user already holds `max_pending` live reservations (when given), or used + live
        reservations + size would pass the limit; both are checked and the item counted in one atomic step, so
        concurrent callers in any number of processes never pass either bound. An item already held is granted
        again without counting."""
        ...

    async def confirm(self, user_id: UUID, upload_id: UUID, size_bytes: int, limit_bytes: int) -> bool:
        """Turn the item into used bytes. A reservation still held is spent; one that lapsed (or none) counts only
        if used + live reservations + size stay within the limit. True when the item is used bytes now."""
        ...

    async def release(self, user_id: UUID, upload_id: UUID) -> None:
        """Give back the item's bytes, reserved or used."""
        ...

    async def hold(self, user_id: UUID, upload_id: UUID, size_bytes: int, until: datetime) -> None:
        """Keep the item's bytes counted as a reservation until `until` (or its release), whatever the limit: an
        ended upload whose URL may still store a file."""
        ...

    async def usage(self, user_id: UUID) -> tuple[int, int]:
        """(used_bytes, reserved_bytes), counting only unexpired reservations."""
        ...

    async def version(self, user_id: UUID) -> int:
        """A number that changes with every reserve, confirm and release of the user (0 when unknown)."""
        ...

    async def replace(
        self,
        user_id: UUID,
        used: Sequence[LedgerEntry],
        reserved: Sequence[LedgerEntry],
        *,
        limit_bytes: int,
        expected_version: int | None = None,
        in_flight: Sequence[LedgerEntry] = (),
    ) -> bool:
        """Rebuild the user's ledger from the database's account of it; a rebuild never grants what the limit
        would refuse.

        Reservations are admitted while used and reserved bytes stay within `limit_bytes`: first those the
        ledger holds, then `reserved` items it does not hold (it lost its data, or the reserve call came late),
        each in the given order; one left out meets the limit again when it is confirmed. `in_flight`
        reservations (rows so new that their reserve call may still be on its way) are kept only if the ledger
        already granted them. A `reserved` or `in_flight` item the ledger holds as used stays used: a confirm
        counts the bytes before its database commit, so the database may not say so yet. With
        `expected_version`, nothing happens if the ledger changed since that version was read (a database
        snapshot taken after reading it is then not older than the ledger). True when replaced.
        """
        ...

    async def rebuilt(self) -> bool:
        """False once the ledger lost its data (Redis restarted empty) until a full rebuild marks it again; until
        then reserve and confirm raise ServiceUnavailable rather than count from nothing."""
        ...

    async def mark_rebuilt(self) -> None:
        """Every user's ledger has just been rebuilt from the database."""
        ...

    async def check(self) -> None: ...


class ScratchSpace(Protocol):
    """Local copies of stored objects for tools that need a file (the PDF renderer)."""

    def local_copy(self, key: str) -> AbstractAsyncContextManager[Path]:
        """Stream the object to a private temporary file, yield its path, remove it afterwards."""
        ...

    async def sha256(self, path: Path) -> str:
        """The hex SHA-256 of a local copy's bytes."""
        ...


# --- processing --------------------------------------------------------------------------------


class PdfRenderer(Protocol):
    """Every call may name its `owner` (the user whose score it is) and its `priority`: when the render processes
    are busy, waiting calls of the most urgent priority go first, and among them each owner in turn, so one user's
    work cannot hold every process while another user waits."""

    async def inspect(
        self, path: Path, *, owner: UUID | None = None, priority: RenderPriority = RenderPriority.COVER
    ) -> PdfInfo:
        """Page count and metadata; raises domain.pdf.PdfError with a classified kind."""
        ...

    async def render_thumbnail(
        self, path: Path, page: int, *, owner: UUID | None = None, priority: RenderPriority = RenderPriority.COVER
    ) -> bytes:
        """A JPEG of the 1-based page fitted inside 300x400; raises PdfError for render limits and timeouts."""
        ...

    async def render_thumbnails(
        self,
        path: Path,
        pages: Sequence[int],
        *,
        owner: UUID | None = None,
        priority: RenderPriority = RenderPriority.PAGES,
    ) -> dict[int, bytes | Exception]:
        """Each page's JPEG or the PdfError it met.

        Raises PdfError when no page can be rendered at all (the document cannot be opened in time).
        """
        ...


class TaskQueue(Protocol):
    async def process_score(self, score_id: UUID) -> str: ...
    async def generate_thumbnail(self, score_id: UUID, page: int) -> str: ...
    async def generate_all_thumbnails(self, score_id: UUID) -> str: ...
    async def delete_files(self, keys: Sequence[str], prefix: str | None = None) -> str:
        """Delete the keys and everything under the prefix, in the background."""
        ...

    async def check(self) -> None: ...


# --- identity and time -------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime: ...


class PasswordHasher(Protocol):
    """Deliberately slow work: implementations keep it off the event loop."""

    async def hash(self, password: str) -> str: ...
    async def verify(self, password_hash: str, password: str) -> bool: ...
    async def verify_nobody(self, password: str) -> None:
        """Spend the time of a verification, so unknown emails answer as slowly as wrong passwords."""
        ...


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


class TokenIssuer(Protocol):
    def issue(self, user_id: UUID) -> AccessToken: ...
    def verify(self, token: str) -> UUID | None: ...


@dataclass(frozen=True)
class RateRule:
    limit: int
    window_seconds: int


class RateLimiter(Protocol):
    """Fixed windows of `rule.limit` actions per key; counting and checking are one atomic step."""

    async def acquire(self, key: str, rule: RateRule) -> int | None:
        """Count one action of `key` and return None; at the limit, count nothing and return the seconds to wait.

        Concurrent callers never get past the limit together.
        """
        ...

    async def release(self, key: str) -> None:
        """Take back one action counted in the key's current window (an attempt that turned out not to count)."""
        ...


def quota_of(user: User, used_and_reserved: tuple[int, int]) -> QuotaUsage:
    used, reserved = used_and_reserved
    return QuotaUsage(limit_bytes=user.quota_limit_bytes, used_bytes=used, reserved_bytes=reserved)
