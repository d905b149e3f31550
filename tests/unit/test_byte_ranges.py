"""byte_range: the Range header of local storage downloads, read as S3 reads it."""

from __future__ import annotations

import pytest

from entrypoints.http.byte_ranges import RangeNotSatisfiable, byte_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, 999)),
        ("bytes=990-5000", (990, 999)),  # clipped to the end
        ("bytes=-10", (990, 999)),  # the last ten bytes
        ("bytes=-5000", (0, 999)),
        ("bytes=999-999", (999, 999)),
    ],
)
def test_a_single_range_is_read_as_inclusive_bytes(header: str, expected: tuple[int, int]) -> None:
    assert byte_range(header, 1000) == expected


@pytest.mark.parametrize(
    "header", [None, "", "bytes=0-1,5-9", "items=0-9", "bytes=-", "bytes=a-b", "0-9", "bytes=" + "9" * 5000 + "-"]
)
def test_anything_but_a_single_byte_range_means_the_whole_object(header: str | None) -> None:
    assert byte_range(header, 1000) is None


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-2000", "bytes=-0", "bytes=20-10"])
def test_a_range_outside_the_object_is_not_satisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, 1000)


@pytest.mark.parametrize("header", ["bytes=0-", "bytes=-5", "bytes=0-0"])
def test_no_range_of_an_empty_object_is_satisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, 0)
