"""Argon2id password hashing."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2PasswordHasher:
    def __init__(self, time_cost: int = 2, memory_cost: int = 19 * 1024, parallelism: int = 1) -> None:
        self._argon2 = _Argon2(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        self._nobody = self._argon2.hash("no account has this password")

    async def hash(self, password: str) -> str:
        # argon2-cffi releases the GIL, so hashing in a thread leaves the event loop free.
        return await asyncio.to_thread(self._argon2.hash, password)

    async def verify_nobody(self, password: str) -> None:
        await self.verify(self._nobody, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
