"""QuotaLedger kept in process memory, with an injectable clock."""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from application.ports import GRANTED, OVER_QUOTA, LedgerEntry, Reservation
from domain.quota import QuotaUsage


@dataclass
class _Account:
    """Items with running totals, and the reservations' expiries in a heap, so that each operation costs the same
    however many uploads the user has (a heap entry of an item released or re-reserved since is skipped)."""

    used: dict[UUID, int] = field(default_factory=dict)
    reserved: dict[UUID, tuple[int, float]] = field(default_factory=dict)  # item -> (size, expires_at)
    held: set[UUID] = field(default_factory=set)  # reserved items of ended uploads: counted, but not pending
    used_bytes: int = 0
    reserved_bytes: int = 0
    expiries: list[tuple[float, UUID]] = field(default_factory=list)

    def drop_lapsed(self, now: float) -> None:
        while self.expiries and self.expiries[0][0] <= now:
            expires_at, item = heapq.heappop(self.expiries)
            held = self.reserved.get(item)
            if held is not None and held[1] == expires_at:
                self.unreserve(item)

    def totals(self) -> tuple[int, int]:
        return self.used_bytes, self.reserved_bytes

    def reserve(self, item: UUID, size: int, expires_at: float) -> None:
        self.unreserve(item)
        self.reserved[item] = (size, expires_at)
        self.reserved_bytes += size
        heapq.heappush(self.expiries, (expires_at, item))

    def unreserve(self, item: UUID) -> None:
        self.held.discard(item)
        held = self.reserved.pop(item, None)
        if held is not None:
            self.reserved_bytes -= held[0]
        if not self.reserved:
            self.expiries.clear()
        elif len(self.expiries) > 2 * len(self.reserved) + 64:  # mostly entries of items confirmed or released
            self.expiries = [(expires_at, item) for item, (_, expires_at) in self.reserved.items()]
            heapq.heapify(self.expiries)

    def use(self, item: UUID, size: int) -> None:
        self.unuse(item)
        self.used[item] = size
        self.used_bytes += size

    def unuse(self, item: UUID) -> None:
        self.used_bytes -= self.used.pop(item, 0)

    @property
    def pending(self) -> int:
        return len(self.reserved) - len(self.held)

    def seconds_until_a_place_frees(self, max_pending: int, now: float) -> int:
        """With at least `max_pending` pending uploads: when the earliest expiry that brings them under it passes."""
        pending = (expires_at for item, (_, expires_at) in self.reserved.items() if item not in self.held)
        expiries = heapq.nsmallest(self.pending - max_pending + 1, pending)
        return max(1, math.ceil(expiries[-1] - now))


class InMemoryQuotaLedger:
    """Per-user items, each reserved (with an expiry) or used; `clock` returns epoch seconds."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._accounts: dict[UUID, _Account] = {}
        self._versions: dict[UUID, int] = {}
        self._lock = asyncio.Lock()

    async def reserve(
        self,
        user_id: UUID,
        upload_id: UUID,
        size_bytes: int,
        limit_bytes: int,
        ttl_seconds: int,
        max_pending: int | None = None,
    ) -> Reservation:
        if size_bytes < 0 or ttl_seconds <= 0:
            raise ValueError("size_bytes must be >= 0 and ttl_seconds > 0")
        if max_pending is not None and max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        async with self._lock:
            now = self._clock()
            account = self._open(user_id, now)
            try:
                if upload_id in account.used or upload_id in account.reserved:
                    return GRANTED
                pending = account.pending
                if max_pending is not None and pending >= max_pending:
                    return Reservation(False, pending, account.seconds_until_a_place_frees(max_pending, now))
                used, reserved = account.totals()
                if not QuotaUsage(limit_bytes, used, reserved).can_reserve(size_bytes):
                    return OVER_QUOTA
                account.reserve(upload_id, size_bytes, now + ttl_seconds)
                self._bump(user_id)
                return GRANTED
            finally:
                self._close(user_id, account)

    async def confirm(self, user_id: UUID, upload_id: UUID, size_bytes: int, limit_bytes: int) -> bool:
        if size_bytes < 0:
            raise ValueError("size_bytes must be >= 0")
        async with self._lock:
            account = self._open(user_id, self._clock())
            try:
                held = upload_id in account.used or upload_id in account.reserved
                if not held and not QuotaUsage(limit_bytes, *account.totals()).can_reserve(size_bytes):
                    return False
                account.unreserve(upload_id)
                account.use(upload_id, size_bytes)
                self._bump(user_id)
                return True
            finally:
                self._close(user_id, account)

    async def release(self, user_id: UUID, upload_id: UUID) -> None:
        async with self._lock:
            account = self._open(user_id, self._clock())
            account.unreserve(upload_id)
            account.unuse(upload_id)
            self._bump(user_id)
            self._close(user_id, account)

    async def hold(self, user_id: UUID, upload_id: UUID, size_bytes: int, until: datetime) -> None:
        async with self._lock:
            now = self._clock()
            account = self._open(user_id, now)
            account.unuse(upload_id)
            account.unreserve(upload_id)
            if until.timestamp() > now:
                account.reserve(upload_id, size_bytes, until.timestamp())
                account.held.add(upload_id)
            self._bump(user_id)
            self._close(user_id, account)

    async def usage(self, user_id: UUID) -> tuple[int, int]:
        async with self._lock:
            account = self._open(user_id, self._clock())
            self._close(user_id, account)
            return account.totals()

    async def version(self, user_id: UUID) -> int:
        return self._versions.get(user_id, 0)

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
        async with self._lock:
            if expected_version is not None and expected_version != self._versions.get(user_id, 0):
                return False
            now = self._clock()
            held = self._accounts.get(user_id, _Account())
            held.drop_lapsed(now)
            confirming = {
                entry.upload_id: held.used[entry.upload_id]
                for entry in (*reserved, *in_flight)
                if entry.upload_id in held.used
            }
            kept = [entry for entry in (*reserved, *in_flight) if entry.upload_id in held.reserved]
            added = [entry for entry in reserved if entry.upload_id not in held.reserved]
            account = _Account()
            for item, size in ({entry.upload_id: entry.size_bytes for entry in used} | confirming).items():
                account.use(item, size)
            for entry in (*kept, *added):
                expires_at = _epoch_seconds(entry)
                if entry.upload_id in account.used or entry.upload_id in account.reserved or expires_at <= now:
                    continue
                if QuotaUsage(limit_bytes, *account.totals()).can_reserve(entry.size_bytes):
                    account.reserve(entry.upload_id, entry.size_bytes, expires_at)
                    if entry.upload_id in held.held:
                        account.held.add(entry.upload_id)
            self._accounts[user_id] = account
            self._close(user_id, account)
            return True

    async def rebuilt(self) -> bool:
        return True  # it lives and dies with its process, which rebuilds it when it starts

    async def mark_rebuilt(self) -> None:
        return None

    async def check(self) -> None:
        return None

    def _bump(self, user_id: UUID) -> None:
        self._versions[user_id] = self._versions.get(user_id, 0) + 1

    def _open(self, user_id: UUID, now: float) -> _Account:
        account = self._accounts.setdefault(user_id, _Account())
        account.drop_lapsed(now)
        return account

    def _close(self, user_id: UUID, account: _Account) -> None:
        if not account.used and not account.reserved:
            self._accounts.pop(user_id, None)


def _epoch_seconds(entry: LedgerEntry) -> float:
    if entry.expires_at is None or entry.expires_at.tzinfo is None:
        raise ValueError(f"reserved entry {entry.upload_id} needs a timezone-aware expires_at")
    return entry.expires_at.timestamp()
