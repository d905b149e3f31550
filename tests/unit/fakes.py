"""In-memory fakes of the application ports: small real classes with the ports' semantics, no mocks.

The fake database keeps a committed state; a unit of work copies it on entry, its repositories read and
write that private copy (always handing out and taking in deep copies, like rows mapped to fresh entities),
`commit` publishes the copy and leaving without commit throws it away.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from application.ports import (
    AccessToken,
    ChecksumMatch,
    DuplicateGroup,
    LibraryStats,
    Page,
    PresignedRequest,
    ScoreListing,
    ScoreQuery,
    ScoreSummary,
    SiteStats,
    StoredObject,
    UserLibraryCounts,
)
from domain.pdf import PdfError, PdfInfo, PdfMetadata, RenderPriority
from domain.scores import ProcessingStatus, Score
from domain.setlists import Setlist
from domain.text import sort_key
from domain.uploads import Upload, UploadStatus
from domain.users import User

# --- time ----------------------------------------------------------------------------------------


class FakeClock:
    """An aware-UTC clock that only moves when told; `timestamp` feeds the in-memory ledger and limiter."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = moment.astimezone(UTC)

    def advance(self, seconds: float = 0, **delta: float) -> datetime:
        self._now += timedelta(seconds=seconds, **delta)
        return self._now

    def timestamp(self) -> float:
        return self._now.timestamp()


# --- persistence ---------------------------------------------------------------------------------


@dataclass
class DbState:
    users: dict[UUID, User] = field(default_factory=dict)
    uploads: dict[UUID, Upload] = field(default_factory=dict)
    scores: dict[UUID, Score] = field(default_factory=dict)
    setlists: dict[UUID, Setlist] = field(default_factory=dict)

    def snapshot(self) -> DbState:
        """Its own tables holding the same objects: the repositories store and hand out copies, never these."""
        return DbState(dict(self.users), dict(self.uploads), dict(self.scores), dict(self.setlists))


class FakeDatabase:
    """The committed state. Tests may read and seed it directly (it is what a real database would hold)."""

    def __init__(self) -> None:
        self.state = DbState()

    @property
    def users(self) -> dict[UUID, User]:
        return self.state.users

    @property
    def uploads(self) -> dict[UUID, Upload]:
        return self.state.uploads

    @property
    def scores(self) -> dict[UUID, Score]:
        return self.state.scores

    @property
    def setlists(self) -> dict[UUID, Setlist]:
        return self.state.setlists


class _Repository:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    @property
    def _state(self) -> DbState:
        return self._uow.state


class FakeUserRepository(_Repository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        super().__init__(uow)
        self.locked: list[UUID] = []

    async def add(self, user: User) -> None:
        if user.id in self._state.users or any(u.email == user.email for u in self._state.users.values()):
            raise LookupError(f"user {user.id} / {user.email} already stored")
        self._state.users[user.id] = copy.deepcopy(user)

    async def get(self, user_id: UUID, *, for_update: bool = False) -> User | None:
        if for_update:
            self.locked.append(user_id)
        return copy.deepcopy(self._state.users.get(user_id))

    async def get_by_email(self, email: str) -> User | None:
        for user in self._state.users.values():
            if user.email == email:
                return copy.deepcopy(user)
        return None

    async def list_ids(self) -> Sequence[UUID]:
        return sorted(self._state.users)

    async def save(self, user: User) -> None:
        self._state.users[user.id] = copy.deepcopy(user)

    async def search(self, text: str | None, limit: int, offset: int) -> Page[User]:
        needle = (text or "").lower()
        found = [
            user
            for user in sorted(self._state.users.values(), key=lambda user: (user.created_at, user.id))
            if needle in user.email.lower() or needle in user.username.lower()
        ]
        return Page([copy.deepcopy(user) for user in found[offset : offset + limit]], len(found), limit, offset)

    async def inactive_ids(self) -> Sequence[UUID]:
        return [user.id for user in self._state.users.values() if not user.is_active]


class FakeUploadRepository(_Repository):
    async def add(self, upload: Upload) -> None:
        if upload.id in self._state.uploads:
            raise LookupError(f"upload {upload.id} already stored")
        self._state.uploads[upload.id] = copy.deepcopy(upload)

    async def get(self, upload_id: UUID, *, for_update: bool = False) -> Upload | None:
        return copy.deepcopy(self._state.uploads.get(upload_id))

    async def save(self, upload: Upload) -> None:
        if upload.id not in self._state.uploads:
            raise LookupError(f"upload {upload.id} is not stored; add it first")
        self._state.uploads[upload.id] = copy.deepcopy(upload)

    async def remove(self, upload: Upload) -> None:
        self._state.uploads.pop(upload.id, None)

    async def list_expired_pending(self, now: datetime, limit: int) -> Sequence[Upload]:
        found = [u for u in self._state.uploads.values() if u.status is UploadStatus.PENDING and u.expires_at <= now]
        found.sort(key=lambda u: (u.expires_at, u.id))
        return copy.deepcopy(found[:limit])

    async def list_unused_confirmed(self, confirmed_before: datetime, limit: int) -> Sequence[Upload]:
        found = [
            u
            for u in self._state.uploads.values()
            if u.status is UploadStatus.CONFIRMED
            and u.score_id is None
            and u.confirmed_at is not None
            and u.confirmed_at < confirmed_before
        ]
        found.sort(key=lambda u: (u.confirmed_at or u.created_at, u.id))
        return copy.deepcopy(found[:limit])

    async def list_to_clear(self, created_before: datetime, limit: int) -> Sequence[Upload]:
        found = [u for u in self._state.uploads.values() if u.storage_to_clear and u.created_at < created_before]
        found.sort(key=lambda u: (u.created_at, u.id))
        return copy.deepcopy(found[:limit])

    async def list_live(self, user_id: UUID | None = None) -> Sequence[Upload]:
        found = [
            u
            for u in self._state.uploads.values()
            if (u.status in (UploadStatus.PENDING, UploadStatus.CONFIRMED) or u.storage_to_clear)
            and (user_id is None or u.user_id == user_id)
        ]
        found.sort(key=lambda u: (u.created_at, u.id))
        return copy.deepcopy(found)


SORT_FIELDS = ("title", "created_at", "composer")


def sort_scores(scores: Sequence[Score], ordering: str) -> list[Score]:
    """The repositories' ordering: the field (nulls last either way), then the id in the same direction."""
    descending = ordering.startswith("-")
    name = ordering.removeprefix("-")
    if name not in SORT_FIELDS:
        raise ValueError(f"unknown ordering {ordering!r}")

    def value(score: Score) -> Any:
        return score.created_at if name == "created_at" else getattr(score.details, name)

    present = [s for s in scores if value(s) is not None]
    missing = [s for s in scores if value(s) is None]
    present.sort(key=lambda s: (value(s), s.id), reverse=descending)
    missing.sort(key=lambda s: s.id, reverse=descending)
    return present + missing


class FakeScoreRepository(_Repository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        super().__init__(uow)
        self.locked: list[UUID] = []

    async def add(self, score: Score) -> None:
        if score.id in self._state.scores:
            raise LookupError(f"score {score.id} already stored")
        self._state.scores[score.id] = copy.deepcopy(score)

    async def get(self, score_id: UUID, *, for_update: bool = False) -> Score | None:
        if for_update:
            self.locked.append(score_id)
            if score_id not in self._uow.database.state.scores:
                # Deleted by a transaction that committed while this one waited for the lock.
                self._state.scores.pop(score_id, None)
        return copy.deepcopy(self._state.scores.get(score_id))

    async def save(self, score: Score) -> None:
        if score.id not in self._state.scores:
            raise LookupError(f"score {score.id} is not stored")
        self._state.scores[score.id] = copy.deepcopy(score)

    async def delete(self, score: Score) -> None:
        if self._state.scores.pop(score.id, None) is None:
            raise LookupError(f"score {score.id} is not stored")

    async def search(self, query: ScoreQuery) -> Page[ScoreListing]:
        found = [s for s in self._state.scores.values() if _matches(s, query) and not s.in_trash]
        ordered = sort_scores(found, query.ordering)
        items = ordered[query.offset : query.offset + query.limit]
        listings = [ScoreListing.of(score) for score in copy.deepcopy(items)]
        return Page(items=listings, total=len(found), limit=query.limit, offset=query.offset)

    async def recent(self, user_id: UUID, limit: int) -> Sequence[ScoreListing]:
        own = [s for s in self._state.scores.values() if s.user_id == user_id and not s.in_trash]
        own.sort(key=lambda s: (s.created_at, s.id), reverse=True)
        return [ScoreListing.of(score) for score in copy.deepcopy(own[:limit])]

    async def summaries(self, user_id: UUID, score_ids: Sequence[UUID]) -> dict[UUID, ScoreSummary]:
        wanted = set(score_ids)
        return {
            s.id: ScoreSummary(s.id, s.details.title, s.details.composer, s.processing.page_count, s.cover.ready)
            for s in self._state.scores.values()
            if s.user_id == user_id and s.id in wanted and not s.in_trash
        }

    async def trash(self, user_id: UUID, limit: int, offset: int) -> Page[ScoreListing]:
        found = [s for s in self._state.scores.values() if s.user_id == user_id and s.deleted_at is not None]
        found.sort(key=lambda s: (s.deleted_at, s.id), reverse=True)
        listings = [ScoreListing.of(score) for score in copy.deepcopy(found[offset : offset + limit])]
        return Page(items=listings, total=len(found), limit=limit, offset=offset)

    async def list_trashed(
        self, limit: int, *, user_id: UUID | None = None, deleted_before: datetime | None = None
    ) -> Sequence[Score]:
        found = [
            s
            for s in self._state.scores.values()
            if s.deleted_at is not None
            and (user_id is None or s.user_id == user_id)
            and (deleted_before is None or s.deleted_at < deleted_before)
        ]
        found.sort(key=lambda s: (s.deleted_at, s.id))
        return copy.deepcopy(found[:limit])

    async def list_stuck(self, started_before: datetime, limit: int) -> Sequence[Score]:
        def started(score: Score) -> datetime:
            return score.processing.started_at or score.created_at

        unfinished = (ProcessingStatus.PENDING, ProcessingStatus.PROCESSING)
        found = [
            s for s in self._state.scores.values() if s.processing.status in unfinished and started(s) < started_before
        ]
        found.sort(key=lambda s: (started(s), s.id))
        return copy.deepcopy(found[:limit])

    async def list_wanting_thumbnails(self, after: UUID | None, limit: int) -> Sequence[Score]:
        found = sorted(
            (s for s in self._state.scores.values() if s.page_thumbnails.wanted or s.cover_wanted),
            key=lambda s: s.id,
        )
        return copy.deepcopy([s for s in found if after is None or s.id > after][:limit])

    async def checksum_match(self, user_id: UUID, checksum_sha256: str) -> ChecksumMatch | None:
        found = sorted(
            (s for s in self._state.scores.values() if s.user_id == user_id and s.checksum_sha256 == checksum_sha256),
            key=lambda s: (s.deleted_at is not None, s.created_at, s.id),
        )
        return ChecksumMatch(found[0].id, found[0].deleted_at is not None) if found else None

    async def duplicate_groups(self, user_id: UUID, limit: int, offset: int) -> Page[DuplicateGroup]:
        by_checksum: dict[str, list[Score]] = {}
        for score in self._state.scores.values():
            if score.user_id == user_id and score.deleted_at is None and score.checksum_sha256 is not None:
                by_checksum.setdefault(score.checksum_sha256, []).append(score)
        groups = []
        for checksum, scores in by_checksum.items():
            if len(scores) >= 2:
                scores.sort(key=lambda s: (s.created_at, s.id))
                listings = [ScoreListing.of(s) for s in copy.deepcopy(scores)]
                groups.append(DuplicateGroup(checksum, scores[0].size_bytes, listings))
        groups.sort(key=lambda group: (group.scores[0].created_at, group.checksum_sha256))
        return Page(items=groups[offset : offset + limit], total=len(groups), limit=limit, offset=offset)

    async def list_without_checksum(self, after: UUID | None, limit: int) -> Sequence[Score]:
        processed = (ProcessingStatus.READY, ProcessingStatus.FAILED)
        found = sorted(
            (
                s
                for s in self._state.scores.values()
                if s.checksum_sha256 is None and s.processing.status in processed and (after is None or s.id > after)
            ),
            key=lambda s: s.id,
        )
        return copy.deepcopy(found[:limit])


def _matches(score: Score, query: ScoreQuery) -> bool:
    details = score.details
    if score.user_id != query.user_id:
        return False
    if query.text:
        key = sort_key(query.text)
        if key not in sort_key(details.title) and key not in sort_key(details.composer or ""):
            return False
    if query.composer is not None and (
        details.composer is None or sort_key(details.composer) != sort_key(query.composer)
    ):
        return False
    if query.genre is not None and (details.genre is None or sort_key(details.genre) != sort_key(query.genre)):
        return False
    if query.tag is not None and query.tag not in details.tags:
        return False
    return query.status is None or score.processing.status is query.status


class FakeSetlistRepository(_Repository):
    def __init__(self, uow: FakeUnitOfWork) -> None:
        super().__init__(uow)
        self.locked: list[UUID] = []

    async def add(self, setlist: Setlist) -> None:
        if setlist.id in self._state.setlists:
            raise LookupError(f"setlist {setlist.id} already stored")
        self._state.setlists[setlist.id] = copy.deepcopy(setlist)

    def _read(self, setlist: Setlist) -> Setlist:
        """A copy whose items of scores in the trash are hidden, as the real repository reads them."""
        copied = copy.deepcopy(setlist)
        for item in copied.items:
            score = self._state.scores.get(item.score_id)
            item.hidden = score is not None and score.in_trash
        copied.renumber()
        return copied

    async def get(self, setlist_id: UUID, *, for_update: bool = False) -> Setlist | None:
        if for_update:
            self.locked.append(setlist_id)
        setlist = self._state.setlists.get(setlist_id)
        return None if setlist is None else self._read(setlist)

    async def save(self, setlist: Setlist) -> None:
        if setlist.id not in self._state.setlists:
            raise LookupError(f"setlist {setlist.id} is not stored; add it first")
        positions = [item.position for item in setlist.visible_items]
        if positions != list(range(len(positions))):
            # The real table has a unique (setlist_id, position); the domain promises 0..n-1.
            raise AssertionError(f"setlist {setlist.id} saved with positions {positions}")
        self._state.setlists[setlist.id] = copy.deepcopy(setlist)

    async def delete(self, setlist: Setlist) -> None:
        self._state.setlists.pop(setlist.id, None)

    async def search(self, user_id: UUID, text: str | None, limit: int, offset: int) -> Page[Setlist]:
        found = [
            s
            for s in self._state.setlists.values()
            if s.user_id == user_id and (not text or sort_key(text) in sort_key(s.name))
        ]
        found.sort(key=lambda s: (sort_key(s.name), s.id))
        items = [self._read(s) for s in found[offset : offset + limit]]
        return Page(items=items, total=len(found), limit=limit, offset=offset)

    async def containing_score(self, score_id: UUID) -> Sequence[Setlist]:
        found = [s for s in self._state.setlists.values() if any(i.score_id == score_id for i in s.items)]
        found.sort(key=lambda s: (s.created_at, s.id))
        return [self._read(s) for s in found]


class FakeStatsReader(_Repository):
    async def library_stats(self, user_id: UUID) -> LibraryStats:
        counts = dict.fromkeys(ProcessingStatus, 0)
        pages = trash_count = trash_bytes = 0
        for score in self._state.scores.values():
            if score.user_id != user_id:
                continue
            if score.in_trash:
                trash_count += 1
                trash_bytes += score.size_bytes
            else:
                counts[score.processing.status] += 1
                pages += score.processing.page_count or 0
        setlists = sum(1 for s in self._state.setlists.values() if s.user_id == user_id)
        return LibraryStats(
            score_count=sum(counts.values()),
            setlist_count=setlists,
            total_pages=pages,
            processing_counts=counts,
            trash_score_count=trash_count,
            trash_bytes=trash_bytes,
        )

    async def user_library_counts(self, user_ids: Sequence[UUID]) -> dict[UUID, UserLibraryCounts]:
        counts = {}
        for user_id in user_ids:
            scores = [score for score in self._state.scores.values() if score.user_id == user_id]
            if scores:
                counts[user_id] = UserLibraryCounts(
                    score_count=sum(1 for score in scores if score.deleted_at is None),
                    trash_bytes=sum(score.size_bytes for score in scores if score.deleted_at is not None),
                )
        return counts

    async def site_stats(self, now: datetime) -> SiteStats:
        users = self._state.users.values()
        in_library = [score for score in self._state.scores.values() if score.deleted_at is None]
        uploads = self._state.uploads.values()
        counts = dict.fromkeys(ProcessingStatus, 0)
        for score in in_library:
            counts[score.processing.status] += 1
        return SiteStats(
            user_count=len(users),
            active_user_count=sum(1 for user in users if user.is_active),
            score_count=len(in_library),
            trash_score_count=len(self._state.scores) - len(in_library),
            stored_bytes=sum(u.size_bytes for u in uploads if u.status is UploadStatus.CONFIRMED),
            reserved_bytes=sum(
                u.size_bytes for u in uploads if u.status is UploadStatus.PENDING and u.expires_at > now
            ),
            processing_counts=counts,
        )


class FakeUnitOfWork:
    """One transaction at a time over a FakeDatabase; may be entered again once the previous one ended."""

    def __init__(self, database: FakeDatabase) -> None:
        self.database = database
        self.commits = 0
        self.rollbacks = 0
        self.transactions = 0
        self._state: DbState | None = None
        self._autocommit_next = self.autocommitting = False
        self.autocommit_transactions = 0
        # Runs at the start of every transaction, before the state is copied (to play a concurrent writer).
        self.on_enter: Callable[[], Awaitable[None]] | None = None
        self.users = FakeUserRepository(self)
        self.uploads = FakeUploadRepository(self)
        self.scores = FakeScoreRepository(self)
        self.setlists = FakeSetlistRepository(self)
        self.stats = FakeStatsReader(self)

    @property
    def state(self) -> DbState:
        if self._state is None:
            raise RuntimeError("the unit of work is used outside `async with`")
        return self._state

    @property
    def active(self) -> bool:
        return self._state is not None

    def autocommit(self) -> Self:
        """The same state; counted, so that tests can tell which units of work ran without a transaction."""
        self._autocommit_next = True
        return self

    async def __aenter__(self) -> Self:
        if self._state is not None:
            raise RuntimeError("the unit of work is already open (nested use)")
        if self.on_enter is not None:
            await self.on_enter()
        self._state = self.database.state.snapshot()
        self.transactions += 1
        self.autocommitting, self._autocommit_next = self._autocommit_next, False
        self.autocommit_transactions += self.autocommitting
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._state = None  # whatever was not committed is gone

    async def commit(self) -> None:
        self.database.state = self.state.snapshot()
        self.commits += 1

    async def rollback(self) -> None:
        self._state = self.database.state.snapshot()
        self.rollbacks += 1


# --- storage -------------------------------------------------------------------------------------

STORAGE_URL = "https://storage.test"
SCRATCH_ROOT = Path("/fake-scratch")


class StorageUnavailable(Exception):
    pass


class FakeStorage:
    """Objects in a dict; presigned URLs are deterministic strings; nothing touches the disk."""

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self.objects: dict[str, bytes] = {}
        self.on_put: Callable[[str], Any] | None = None
        self.content_types: dict[str, str] = {}
        self.head_reads: list[tuple[str, int]] = []
        self.downloads: list[str] = []
        self.deleted: list[str] = []
        self.deleted_prefixes: list[str] = []
        self.available = True

    async def presign_upload(self, key: str, content_type: str, size_bytes: int, expires_in: int) -> PresignedRequest:
        return PresignedRequest(
            url=f"{STORAGE_URL}/{key}?method=PUT&size={size_bytes}&expires_in={expires_in}",
            method="PUT",
            headers={"Content-Type": content_type},
            expires_at=self._clock.now() + timedelta(seconds=expires_in),
        )

    async def presign_download(self, key: str, expires_in: int, filename: str | None = None) -> PresignedRequest:
        suffix = f"&filename={filename}" if filename else ""
        return PresignedRequest(
            url=f"{STORAGE_URL}/{key}?method=GET&expires_in={expires_in}{suffix}",
            method="GET",
            headers={},
            expires_at=self._clock.now() + timedelta(seconds=expires_in),
        )

    async def stat(self, key: str) -> StoredObject | None:
        data = self.objects.get(key)
        return None if data is None else StoredObject(len(data))

    async def read_head(self, key: str, length: int) -> bytes:
        self.head_reads.append((key, length))
        if key not in self.objects:
            raise FileNotFoundError(key)
        return self.objects[key][:length]

    async def download_to(self, key: str, destination: Path) -> None:
        self.downloads.append(key)
        if key not in self.objects:
            raise FileNotFoundError(key)

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        if self.on_put is not None:
            await _maybe_await(self.on_put(key))
        self.objects[key] = data
        self.content_types[key] = content_type

    async def delete(self, key: str) -> None:
        self.deleted.append(key)
        self.objects.pop(key, None)
        self.content_types.pop(key, None)

    async def delete_prefix(self, prefix: str) -> None:
        self.deleted_prefixes.append(prefix)
        for key in [k for k in self.objects if k.startswith(prefix)]:
            await self.delete(key)

    async def check(self) -> None:
        if not self.available:
            raise StorageUnavailable("storage is down")

    def keys_under(self, prefix: str) -> list[str]:
        return sorted(k for k in self.objects if k.startswith(prefix))


def scratch_path(key: str) -> Path:
    return SCRATCH_ROOT / key


def key_of(path: Path) -> str:
    return str(path.relative_to(SCRATCH_ROOT))


class FakeScratchSpace:
    """Yields a made-up path for a stored object (no download, no file); refuses objects that are not stored."""

    def __init__(self, storage: FakeStorage) -> None:
        self._storage = storage
        self.copies: list[str] = []
        self.open_copies = 0

    @asynccontextmanager
    async def local_copy(self, key: str) -> AsyncIterator[Path]:
        self.copies.append(key)
        if key not in self._storage.objects:
            raise FileNotFoundError(key)
        self.open_copies += 1
        try:
            yield scratch_path(key)
        finally:
            self.open_copies -= 1

    async def sha256(self, path: Path) -> str:
        """Of the stored bytes the made-up path stands for."""
        return hashlib.sha256(self._storage.objects[key_of(path)]).hexdigest()


# --- processing ----------------------------------------------------------------------------------

DEFAULT_INFO = PdfInfo(page_count=3, metadata=PdfMetadata())


def fake_jpeg(key: str, page: int) -> bytes:
    return f"\xff\xd8 jpeg of {key} page {page}".encode()


class FakeRenderer:
    """Per-key inspect results and per-(key, page) render results; hooks run just before an answer."""

    def __init__(self) -> None:
        self.infos: dict[str, PdfInfo | Exception] = {}
        self.renders: dict[tuple[str, int], bytes | Exception] = {}
        self.unopenable: dict[str, PdfError] = {}  # documents that cannot be opened for rendering
        self.default_info: PdfInfo = DEFAULT_INFO
        self.inspected: list[str] = []
        self.rendered: list[tuple[str, int]] = []
        self.batches: list[list[int]] = []
        self.on_inspect: Callable[[str], Any] | None = None
        self.on_render: Callable[[str, int], Any] | None = None
        self.on_batch: Callable[[str, list[int]], Any] | None = None
        self.jobs: list[tuple[str, UUID | None, RenderPriority]] = []  # (operation, owner, priority) of each call

    async def inspect(
        self, path: Path, *, owner: UUID | None = None, priority: RenderPriority = RenderPriority.COVER
    ) -> PdfInfo:
        key = key_of(path)
        self.inspected.append(key)
        self.jobs.append(("inspect", owner, priority))
        if self.on_inspect is not None:
            await _maybe_await(self.on_inspect(key))
        result = self.infos.get(key, self.default_info)
        if isinstance(result, Exception):
            raise result
        return result

    async def render_thumbnail(
        self, path: Path, page: int, *, owner: UUID | None = None, priority: RenderPriority = RenderPriority.COVER
    ) -> bytes:
        key = key_of(path)
        self.rendered.append((key, page))
        self.jobs.append(("render_thumbnail", owner, priority))
        if self.on_render is not None:
            await _maybe_await(self.on_render(key, page))
        result = self.renders.get((key, page), fake_jpeg(key, page))
        if isinstance(result, Exception):
            raise result
        return result

    async def render_thumbnails(
        self,
        path: Path,
        pages: Sequence[int],
        *,
        owner: UUID | None = None,
        priority: RenderPriority = RenderPriority.PAGES,
    ) -> dict[int, bytes | Exception]:
        key = key_of(path)
        self.batches.append(list(pages))
        self.jobs.append(("render_thumbnails", owner, priority))
        if self.on_batch is not None:
            await _maybe_await(self.on_batch(key, list(pages)))
        if key in self.unopenable:
            raise self.unopenable[key]
        results: dict[int, bytes | Exception] = {}
        for page in pages:
            try:
                results[page] = await self.render_thumbnail(path, page, owner=owner, priority=priority)
            except Exception as exc:
                results[page] = exc
        return results


async def _maybe_await(value: Any) -> None:
    if hasattr(value, "__await__"):
        await value


class QueueUnavailable(Exception):
    pass


@dataclass(frozen=True)
class SentTask:
    name: str
    args: tuple[Any, ...]
    task_id: str


class FakeQueue:
    """Records every task sent; with `error` set, sending raises it instead."""

    def __init__(self) -> None:
        self.sent: list[SentTask] = []
        self.error: Exception | None = None
        self.attempts = 0

    async def process_score(self, score_id: UUID) -> str:
        return self._send("process_score", score_id)

    async def generate_thumbnail(self, score_id: UUID, page: int) -> str:
        return self._send("generate_thumbnail", score_id, page)

    async def generate_all_thumbnails(self, score_id: UUID) -> str:
        return self._send("generate_all_thumbnails", score_id)

    async def delete_files(self, keys: Sequence[str], prefix: str | None = None) -> str:
        return self._send("delete_files", list(keys), prefix)

    async def check(self) -> None:
        if self.error is not None:
            raise self.error

    def _send(self, name: str, *args: Any) -> str:
        self.attempts += 1
        if self.error is not None:
            raise self.error
        task_id = f"task-{len(self.sent) + 1}"
        self.sent.append(SentTask(name, args, task_id))
        return task_id

    def named(self, name: str) -> list[SentTask]:
        return [task for task in self.sent if task.name == name]


# --- identity ------------------------------------------------------------------------------------


class FakeHasher:
    """Reversible and fast: never use outside tests."""

    PREFIX = "fake-hash$"

    def __init__(self) -> None:
        self.verified = 0

    async def hash(self, password: str) -> str:
        return self.PREFIX + password[::-1]

    async def verify_nobody(self, password: str) -> None:
        self.verified += 1

    async def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        await asyncio.sleep(0)  # the real hasher lets other requests run while it works
        return password_hash == await self.hash(password)


class FakeTokens:
    PREFIX = "token-for-"
    EXPIRES_IN = 3600

    def __init__(self) -> None:
        self.revoked: set[str] = set()

    def issue(self, user_id: UUID) -> AccessToken:
        return AccessToken(f"{self.PREFIX}{user_id}", self.EXPIRES_IN)

    def verify(self, token: str) -> UUID | None:
        if token in self.revoked or not token.startswith(self.PREFIX):
            return None
        try:
            return UUID(token.removeprefix(self.PREFIX))
        except ValueError:
            return None
