"""/duplicates: the user's scores of the same file."""

from __future__ import annotations

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get

from application.duplicates import ListDuplicates
from entrypoints.http.auth import CurrentUser
from entrypoints.http.openapi import documented
from entrypoints.http.pagination import DEFAULT_LIMIT, Limit, Offset, window
from entrypoints.http.presenters import duplicate_page
from entrypoints.http.schemas import DuplicatePage


class DuplicateController(Controller):
    path = "/duplicates"
    tags = ["Duplicates"]

    @get("/", summary="List groups of duplicate scores", **documented("listDuplicates"))
    async def list_duplicates(
        self,
        user: FromDishka[CurrentUser],
        list_duplicates: FromDishka[ListDuplicates],
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> DuplicatePage:
        """Every set of two or more of the user's scores outside the trash whose stored PDFs have the same SHA-256
        (`checksum_sha256`, computed by the server when it processes a score), one page of sets at a time: sets in
        the order of their oldest score, the scores of a set oldest first. `total` counts sets."""
        page = window(limit, offset)
        return duplicate_page(await list_duplicates(user.id, page.limit, page.offset))
