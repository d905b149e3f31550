"""Scores: a confirmed PDF upload with the musician's details and what processing learned about it.

Score (score.py) is the aggregate root; its parts each change for one reason: Details (details.py, the musician's
edits), Processing (processing.py, the document's status, facts and problem note), Cover (cover.py, the chosen
page and the stored thumbnail) and PageThumbnails (page_thumbnails.py, the all-pages run).
"""

from domain.scores.cover import Cover, StoredCover
from domain.scores.details import (
    MAX_TAG_LENGTH,
    MAX_TAGS,
    MAX_TEXT_FIELD_LENGTH,
    MAX_TITLE_LENGTH,
    DetailChanges,
    Details,
    distinct_tags,
)
from domain.scores.page_thumbnails import PAGE_THUMBNAILS_FAILED, PageThumbnails
from domain.scores.processing import (
    RESUME_WITHIN,
    RESUMING,
    RETRIES_EXHAUSTED,
    STALLED,
    Processing,
    ProcessingProblem,
    ProcessingStatus,
)
from domain.scores.score import Score

__all__ = [
    "MAX_TAGS",
    "MAX_TAG_LENGTH",
    "MAX_TEXT_FIELD_LENGTH",
    "MAX_TITLE_LENGTH",
    "PAGE_THUMBNAILS_FAILED",
    "RESUME_WITHIN",
    "RESUMING",
    "RETRIES_EXHAUSTED",
    "STALLED",
    "Cover",
    "DetailChanges",
    "Details",
    "PageThumbnails",
    "Processing",
    "ProcessingProblem",
    "ProcessingStatus",
    "Score",
    "StoredCover",
    "distinct_tags",
]
