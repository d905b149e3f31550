"""HS256 JWT access tokens carrying the user id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt

from application.ports import AccessToken

ALGORITHM = "HS256"
AUDIENCE = "scoremate"


class JwtTokenIssuer:
    def __init__(
        self, secret: str, lifetime_seconds: int = 3600, now: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._secret = secret
        self._lifetime = lifetime_seconds
        self._now = now

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
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["sub", "exp"]},
            )
            return UUID(claims["sub"])
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
