"""JwtTokenIssuer: a token verified once is answered from memory until it expires, never past that."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from adapters.security.jwt_tokens import JwtTokenIssuer

SECRET = "a secret that is long enough to sign tokens"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)  # PyJWT checks the expiry against the real clock

    def __call__(self) -> datetime:
        return self.now


def test_a_verified_token_is_recognised_again_until_it_expires() -> None:
    clock, user = Clock(), uuid4()
    issuer = JwtTokenIssuer(SECRET, lifetime_seconds=60, now=clock)
    token = issuer.issue(user).token
    assert issuer.verify(token) == user
    clock.now += timedelta(seconds=59)
    assert issuer.verify(token) == user
    clock.now += timedelta(seconds=1)
    assert issuer.verify(token) is None
    assert issuer.verify(token) is None


def test_a_token_of_another_secret_or_altered_is_refused_every_time() -> None:
    user = uuid4()
    issuer = JwtTokenIssuer(SECRET)
    forged = JwtTokenIssuer(SECRET + " but another").issue(user).token
    valid = issuer.issue(user).token
    altered = valid[:-2] + ("AA" if not valid.endswith("AA") else "BB")
    for _ in range(2):
        assert issuer.verify(forged) is None
        assert issuer.verify(altered) is None
        assert issuer.verify(valid) == user
