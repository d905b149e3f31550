"""PDF date strings (``D:YYYYMMDDHHmmSSOHH'mm'``) as ISO 8601."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

# Every part after the year is optional (PDF 32000-1, 7.9.4); some writers drop the apostrophes.
_PDF_DATE = re.compile(
    r"(?:D:)?(?P<year>\d{4})(?P<month>\d{2})?(?P<day>\d{2})?(?P<hour>\d{2})?(?P<minute>\d{2})?(?P<second>\d{2})?"
    r"(?:(?P<sign>[Zz+\-])(?:(?P<off_h>\d{2})'?(?:(?P<off_m>\d{2})'?)?)?)?"
)


def pdf_date_to_iso(value: str | None) -> str | None:
    """The date as ISO 8601, in UTC when the string gives an offset, naive when it gives none; None if unreadable."""
    if not value:
        return None
    match = _PDF_DATE.fullmatch(value.strip())
    if match is None:
        return None
    part = match.groupdict()
    try:
        moment = datetime(
            int(part["year"]),
            int(part["month"] or 1),
            int(part["day"] or 1),
            int(part["hour"] or 0),
            int(part["minute"] or 0),
            int(part["second"] or 0),
        )
        sign = part["sign"]
        if sign is None:
            return moment.isoformat()
        offset = timedelta(hours=int(part["off_h"] or 0), minutes=int(part["off_m"] or 0))
        if sign == "-":
            offset = -offset
        return moment.replace(tzinfo=timezone(offset)).astimezone(UTC).isoformat()
    except (ValueError, OverflowError):
        return None
