"""Storage quota arithmetic: limit, used, reserved and what is left."""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import QuotaExceeded


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

    def ensure_can_reserve(self, size_bytes: int) -> None:
        if not self.can_reserve(size_bytes):
            raise QuotaExceeded(
                f"The file needs {size_bytes} bytes but only {self.available_bytes} bytes of your quota are free."
            )
