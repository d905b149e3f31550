"""A QuotaLedger that counts granted and refused reservations, around any other ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from adapters.prometheus.metrics import RESERVATIONS
from application.ports import LedgerEntry, QuotaLedger, Reservation

# Resolved once: looking a label up takes a lock and a dict lookup on every call.
_GRANTED = RESERVATIONS.labels("granted")
_REFUSED = RESERVATIONS.labels("refused")


class MeteredQuotaLedger:
    def __init__(self, inner: QuotaLedger) -> None:
        self._inner = inner

    async def reserve(
        self,
        user_id: UUID,
        upload_id: UUID,
        size_bytes: int,
        limit_bytes: int,
        ttl_seconds: int,
        max_pending: int | None = None,
    ) -> Reservation:
        reservation = await self._inner.reserve(user_id, upload_id, size_bytes, limit_bytes, ttl_seconds, max_pending)
        (_GRANTED if reservation else _REFUSED).inc()
        return reservation

    async def confirm(self, user_id: UUID, upload_id: UUID, size_bytes: int, limit_bytes: int) -> bool:
        return await self._inner.confirm(user_id, upload_id, size_bytes, limit_bytes)

    async def release(self, user_id: UUID, upload_id: UUID) -> None:
        await self._inner.release(user_id, upload_id)

    async def hold(self, user_id: UUID, upload_id: UUID, size_bytes: int, until: datetime) -> None:
        await self._inner.hold(user_id, upload_id, size_bytes, until)

    async def usage(self, user_id: UUID) -> tuple[int, int]:
        return await self._inner.usage(user_id)

    async def version(self, user_id: UUID) -> int:
        return await self._inner.version(user_id)

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
        return await self._inner.replace(
            user_id, used, reserved, limit_bytes=limit_bytes, expected_version=expected_version, in_flight=in_flight
        )

    async def rebuilt(self) -> bool:
        return await self._inner.rebuilt()

    async def mark_rebuilt(self) -> None:
        await self._inner.mark_rebuilt()

    async def check(self) -> None:
        await self._inner.check()
