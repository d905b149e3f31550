"""The `Range` header of local-storage downloads, read as S3 reads it (no framework: the unit tests import it)."""

from __future__ import annotations

import re

# Positions of up to 18 digits: larger ones are beyond any object, and int() refuses 4300 digits and more.
_BYTE_RANGE = re.compile(r"bytes=(\d{0,18})-(\d{0,18})")


class RangeNotSatisfiable(Exception):
    pass


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte of a single-range `Range` header, as S3 serves it.

    None means the whole object: no header, or one this server does not take (several ranges, other units).
    Raises RangeNotSatisfiable when the range starts past the end of the object.
    """
    match = _BYTE_RANGE.fullmatch((header or "").strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.groups()
    if size == 0:
        raise RangeNotSatisfiable()
    if first == "":  # the last N bytes
        if int(last) == 0:
            raise RangeNotSatisfiable()
        return max(0, size - int(last)), size - 1
    if int(first) >= size or (last != "" and int(last) < int(first)):
        raise RangeNotSatisfiable()
    return int(first), min(size - 1, int(last)) if last != "" else size - 1
