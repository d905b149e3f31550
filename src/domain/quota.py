"""Storage quota arithmetic: limit, used, reserved and what is left."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QuotaUsage:
    limit_bytes: int
    used_bytes: int
    reserved_bytes: int

    @property
    def available_bytes(self) -> int:
        return max(0, self.limit_bytes - self.used_bytes - self.reserved_bytes)

    def can_reserve(self, size_bytes: int) -> bool:
        return self.used_bytes + self.reserved_bytes + size_bytes <= self.limit_bytes
