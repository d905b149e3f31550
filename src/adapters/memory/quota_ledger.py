"""QuotaLedger kept in process memory, with an injectable clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from application.ports import LedgerEntry
from domain.quota import QuotaUsage


@dataclass
class _Account:
    used: dict[UUID, int] = field(default_factory=dict)
    reserved: dict[UUID, tuple[int, float]] = field(default_factory=dict)  # item -> (size, expires_at)

    def drop_lapsed(self, now: float) -> None:
        for item in [item for item, (_, expires_at) in self.reserved.items() if expires_at <= now]:
            del self.reserved[item]

    def totals(self) -> tuple[int, int]:
        return sum(self.used.values()), sum(size for size, _ in self.reserved.values())


class InMemoryQuotaLedger:
    """Per-user items, each reserved (with an expiry) or used; `clock` returns epoch seconds."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._accounts: dict[UUID, _Account] = {}
        self._versions: dict[UUID, int] = {}
        self._lock = asyncio.Lock()

    async def reserve(
        self, user_id: UUID, upload_id: UUID, size_bytes: int, limit_bytes: int, ttl_seconds: int
    ) -> bool:
        if size_bytes < 0 or ttl_seconds <= 0:
            raise ValueError("size_bytes must be >= 0 and ttl_seconds > 0")
        async with self._lock:
            now = self._clock()
            account = self._open(user_id, now)
            try:
                if upload_id in account.used or upload_id in account.reserved:
                    return True
                used, reserved = account.totals()
                if not QuotaUsage(limit_bytes, used, reserved).can_reserve(size_bytes):
                    return False
                account.reserved[upload_id] = (size_bytes, now + ttl_seconds)
                self._bump(user_id)
                return True
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
                account.reserved.pop(upload_id, None)
                account.used[upload_id] = size_bytes
                self._bump(user_id)
                return True
            finally:
                self._close(user_id, account)

    async def release(self, user_id: UUID, upload_id: UUID) -> None:
        async with self._lock:
            account = self._open(user_id, self._clock())
            account.reserved.pop(upload_id, None)
            account.used.pop(upload_id, None)
            self._bump(user_id)
            self._close(user_id, account)

    async def hold(self, user_id: UUID, upload_id: UUID, size_bytes: int, until: datetime) -> None:
        async with self._lock:
            now = self._clock()
            account = self._open(user_id, now)
            account.used.pop(upload_id, None)
            account.reserved.pop(upload_id, None)
            if until.timestamp() > now:
                account.reserved[upload_id] = (size_bytes, until.timestamp())
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
            account = _Account(used={entry.upload_id: entry.size_bytes for entry in used} | confirming)
            for entry in (*kept, *added):
                expires_at = _epoch_seconds(entry)
                if entry.upload_id in account.used or entry.upload_id in account.reserved or expires_at <= now:
                    continue
                if QuotaUsage(limit_bytes, *account.totals()).can_reserve(entry.size_bytes):
                    account.reserved[entry.upload_id] = (entry.size_bytes, expires_at)
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
