"""A score as domain tests start from, and the moments they use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from domain.pdf import PdfMetadata
from domain.scores import RESUME_WITHIN, Details, Processing, ProcessingStatus, Score

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=3)
LONG_AFTER = NOW + RESUME_WITHIN
METADATA = PdfMetadata(title="Sonata No. 8", author="Beethoven", subject="Classical", keywords="piano; sonata, piano")


def make_score(
    *,
    composer: str | None = None,
    genre: str | None = None,
    tags: list[str] | None = None,
    description: str | None = None,
    page_count: int | None = None,
    status: ProcessingStatus = ProcessingStatus.PENDING,
) -> Score:
    """A new score "Pathétique", created at NOW."""
    return Score(
        id=uuid4(),
        user_id=uuid4(),
        upload_id=uuid4(),
        details=Details("Pathétique", composer, genre, [] if tags is None else tags, description),
        original_filename="a.pdf",
        size_bytes=100,
        storage_key="u/scores/x/original.pdf",
        created_at=NOW,
        updated_at=NOW,
        processing=Processing(status=status, page_count=page_count),
    )
