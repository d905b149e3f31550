"""HS256 JWT access tokens carrying the user id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from application.ports import AccessToken

ALGORITHM = "HS256"
AUDIENCE = "scoremate"
# Tokens verified recently, kept with their user and expiry (a few hundred bytes each).
VERIFIED_TOKENS_KEPT = 10_000


class JwtTokenIssuer:
    def __init__(
        self, secret: str, lifetime_seconds: int = 3600, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._secret = secret
        self._lifetime = lifetime_seconds
        self._now = now
        self._verified: dict[str, tuple[UUID, float]] = {}

    def issue(self, user_id: UUID) -> AccessToken:
        now = self._now()
        claims = {
            "sub": str(user_id),
            "aud": AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self._lifetime)).timestamp()),
        }
        return AccessToken(jwt.encode(claims, self._secret, algorithm=ALGORITHM), self._lifetime)

    def verify(self, token: str) -> UUID | None:
        # A client sends the same token with every request: one verified before is only checked for its expiry.
        known = self._verified.get(token)
        if known is not None:
            user_id, expires_at = known
            if self._now().timestamp() < expires_at:
                return user_id
            del self._verified[token]
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["sub", "exp"]},
            )
            user_id = UUID(claims["sub"])
            expires_at = float(claims["exp"])
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        if self._now().timestamp() >= expires_at:  # expired by this issuer's clock, which PyJWT does not read
            return None
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.pop(next(iter(self._verified)))  # the oldest entry
        self._verified[token] = (user_id, expires_at)
        return user_id
