"""The musician's details of a score (title, composer, genre, tags, description) and how edits to them are
cleaned."""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.errors import ValidationError
from domain.pdf import PdfMetadata, keywords_to_tags
from domain.text import MAX_DESCRIPTION_LENGTH, UNSET, Unset, clean_optional, clean_required, sort_key

MAX_TITLE_LENGTH = 300
MAX_TEXT_FIELD_LENGTH = 300
MAX_TAGS = 50
MAX_TAG_LENGTH = 64


@dataclass
class Details:
    """What the musician says about the score; processing only ever fills fields left empty."""

    title: str
    composer: str | None = None
    genre: str | None = None
    tags: list[str] = field(default_factory=list)
    description: str | None = None

    def update(self, changes: DetailChanges) -> None:
        """Take every field `changes` sets (clean it first: DetailChanges.cleaned)."""
        for name in ("title", "composer", "genre", "tags", "description"):
            value = getattr(changes, name)
            if value is not UNSET:
                setattr(self, name, value)

    def prefill(self, metadata: PdfMetadata) -> None:
        """Fill empty fields from the PDF's metadata, as forScore does on import; never overwrites the musician's."""
        if not self.composer and metadata.author:
            self.composer = metadata.author[:MAX_TEXT_FIELD_LENGTH]
        if not self.genre and metadata.subject:
            self.genre = metadata.subject[:MAX_TEXT_FIELD_LENGTH]
        if not self.tags:
            self.tags = distinct_tags(keywords_to_tags(metadata.keywords))[:MAX_TAGS]


@dataclass(frozen=True)
class DetailChanges:
    """The fields a musician edits. UNSET means "leave as it is" in an update."""

    title: str | Unset = UNSET
    composer: str | Unset | None = UNSET
    genre: str | Unset | None = UNSET
    tags: list[str] | Unset = UNSET
    description: str | Unset | None = UNSET

    def cleaned(self) -> DetailChanges:
        return DetailChanges(
            title=_clean_title(self.title),
            composer=_clean_text(self.composer, "composer", MAX_TEXT_FIELD_LENGTH),
            genre=_clean_text(self.genre, "genre", MAX_TEXT_FIELD_LENGTH),
            tags=_clean_tags(self.tags),
            description=_clean_text(self.description, "description", MAX_DESCRIPTION_LENGTH),
        )


def _clean_title(title: str | Unset) -> str | Unset:
    return title if isinstance(title, Unset) else clean_required(title, "title", MAX_TITLE_LENGTH)


def _clean_text(value: str | Unset | None, name: str, limit: int) -> str | Unset | None:
    return value if isinstance(value, Unset) else clean_optional(value, name, limit)


def _clean_tags(tags: list[str] | Unset) -> list[str] | Unset:
    if isinstance(tags, Unset):
        return tags
    cleaned = [tag.strip() for tag in tags if tag.strip()]
    if any(len(tag) > MAX_TAG_LENGTH for tag in cleaned):
        raise ValidationError(f"A tag must have at most {MAX_TAG_LENGTH} characters.")
    unique = distinct_tags(cleaned)
    if len(unique) > MAX_TAGS:
        raise ValidationError(f"A score can have at most {MAX_TAGS} tags.")
    return unique


def distinct_tags(tags: list[str]) -> list[str]:
    """One of each tag as the library matches them ("Piano", "piano" and "PIANO" are one), first spelling kept."""
    first_spelling: dict[str, str] = {}
    for tag in tags:
        first_spelling.setdefault(sort_key(tag), tag)
    return list(first_spelling.values())
