"""Argon2id password hashing."""

from __future__ import annotations

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError


class Argon2PasswordHasher:
    def __init__(self, time_cost: int = 2, memory_cost: int = 19 * 1024, parallelism: int = 1) -> None:
        self._argon2 = _Argon2(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        self._nobody = self._argon2.hash("no account has this password")

    def hash(self, password: str) -> str:
        return self._argon2.hash(password)

    def verify_nobody(self, password: str) -> None:
        self.verify(self._nobody, password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
