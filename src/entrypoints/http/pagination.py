"""?limit= and ?offset= as the contract defines them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from litestar.params import Parameter

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Databases take a 64-bit OFFSET; anything past this is refused (400), not an error of the database.
MAX_OFFSET = 2**31 - 1

Limit = Annotated[int, Parameter(ge=1, description=f"Page size, at most {MAX_LIMIT} (larger values are capped).")]
Offset = Annotated[int, Parameter(ge=0, le=MAX_OFFSET, description="Items to skip.")]


@dataclass(frozen=True)
class Window:
    limit: int
    offset: int


def window(limit: int, offset: int) -> Window:
    return Window(min(limit, MAX_LIMIT), offset)
