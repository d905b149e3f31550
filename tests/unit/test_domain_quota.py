"""domain.quota: limit, used, reserved and what is left."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.quota import QuotaUsage


def test_available_is_the_limit_minus_used_and_reserved() -> None:
    assert QuotaUsage(limit_bytes=1000, used_bytes=300, reserved_bytes=200).available_bytes == 500


def test_available_never_goes_below_zero() -> None:
    assert QuotaUsage(limit_bytes=1000, used_bytes=900, reserved_bytes=300).available_bytes == 0


def test_a_reservation_may_fill_the_quota_exactly() -> None:
    usage = QuotaUsage(limit_bytes=1000, used_bytes=300, reserved_bytes=200)
    assert usage.can_reserve(500)
    assert not usage.can_reserve(501)


def test_reserved_bytes_count_like_used_bytes() -> None:
    assert not QuotaUsage(1000, 0, 1000).can_reserve(1)
    assert not QuotaUsage(1000, 1000, 0).can_reserve(1)
    assert QuotaUsage(1000, 0, 0).can_reserve(1000)


@given(
    limit=st.integers(0, 10**12),
    used=st.integers(0, 10**12),
    reserved=st.integers(0, 10**12),
    size=st.integers(0, 10**12),
)
def test_can_reserve_agrees_with_available_bytes(limit: int, used: int, reserved: int, size: int) -> None:
    usage = QuotaUsage(limit, used, reserved)
    assert usage.available_bytes >= 0
    if used + reserved <= limit:
        assert usage.available_bytes == limit - used - reserved
        assert usage.can_reserve(size) == (size <= usage.available_bytes)
    else:
        assert usage.available_bytes == 0
        assert usage.can_reserve(size) is False
