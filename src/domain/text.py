"""Text as the domain keeps it, whatever it names: trimmed and bounded, sorted as readers expect; and UNSET, the
"leave as it is" of a partial update."""

from __future__ import annotations

import unicodedata

from domain.errors import ValidationError

# The width of the stored sort keys (the *_sort columns), which no name is longer than.
SORT_KEY_LENGTH = 300
# A description, of a score or of a setlist.
MAX_DESCRIPTION_LENGTH = 5000


class Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Unset = Unset()


def clean_required(value: str, name: str, limit: int) -> str:
    """`value` trimmed; refused when that leaves nothing or more than `limit` characters."""
    cleaned = value.strip()
    if not cleaned:
        raise ValidationError(f"The {name} must not be empty.")
    if len(cleaned) > limit:
        raise ValidationError(f"The {name} must have at most {limit} characters.")
    return cleaned


def clean_optional(value: str | None, name: str, limit: int) -> str | None:
    """`value` trimmed, None when that leaves nothing; refused when longer than `limit` characters."""
    if value is None:
        return None
    cleaned = value.strip()
    if len(cleaned) > limit:
        raise ValidationError(f"The {name} must have at most {limit} characters.")
    return cleaned or None


# Letters Unicode does not decompose into a base letter and an accent, spelled as a reader would type them.
_UNDECOMPOSED_LETTERS = str.maketrans(
    {"Œ": "OE", "œ": "oe", "Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Ł": "L", "ł": "l", "Đ": "D", "đ": "d"}
    | {"Ð": "D", "ð": "d", "Þ": "TH", "þ": "th", "ı": "i"}
)


def sort_key(text: str) -> str:
    """How musicians expect a library to sort: ignoring case and accents ("Étude" beside "etude", before "Fugue";
    "Œuvres" as "oeuvres", "Dvořák" as "dvorak", "Łukaszewski" as "lukaszewski").

    At most SORT_KEY_LENGTH characters: decomposing and case folding can lengthen a text.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSED_LETTERS))
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    # Composed again: a Hangul syllable decomposes into letters that are not accents, and "하" is no part of "한".
    return unicodedata.normalize("NFC", folded)[:SORT_KEY_LENGTH]
