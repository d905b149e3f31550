"""/trash: deleted scores, until restored or deleted for good."""

from __future__ import annotations

from uuid import UUID

from dishka.integrations.litestar import FromDishka
from litestar import Controller, delete, get, post

from application.trash import DeleteFromTrash, EmptyTrash, ListTrash, RestoreScore
from domain.errors import ScoreNotFound
from entrypoints.http.auth import CurrentUser
from entrypoints.http.openapi import documented
from entrypoints.http.pagination import DEFAULT_LIMIT, Limit, Offset, window
from entrypoints.http.presenters import score_body, trashed_score_body
from entrypoints.http.schemas import ScoreBody, TrashEmptied, TrashPage


class TrashController(Controller):
    path = "/trash"
    tags = ["Trash"]

    @get("/", summary="List the trash", **documented("listTrash"))
    async def list_trash(
        self,
        user: FromDishka[CurrentUser],
        list_trash: FromDishka[ListTrash],
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> TrashPage:
        """The user's deleted scores, most recently deleted first, each with `deleted_at` and `purge_at` (when
        housekeeping deletes it for good: `SCOREMATE_TRASH_RETENTION_DAYS` after its deletion). Their bytes still
        count as used quota."""
        page = window(limit, offset)
        result = await list_trash(user.id, page.limit, page.offset)
        return TrashPage([trashed_score_body(item) for item in result.items], result.total, result.limit, result.offset)

    @post(
        "/{score_id:uuid}/restore",
        summary="Restore a score from the trash",
        status_code=200,
        **documented("restoreScore", ScoreNotFound, path=True),
    )
    async def restore(
        self, score_id: UUID, user: FromDishka[CurrentUser], restore_score: FromDishka[RestoreScore]
    ) -> ScoreBody:
        """Puts the score back in the library and in its setlists, each item right after the item it followed.
        404 for a score that is not in the user's trash."""
        return score_body(await restore_score(user.id, score_id))

    @delete(
        "/{score_id:uuid}", summary="Delete a score for good", **documented("deleteFromTrash", ScoreNotFound, path=True)
    )
    async def delete_from_trash(
        self, score_id: UUID, user: FromDishka[CurrentUser], delete_from_trash: FromDishka[DeleteFromTrash]
    ) -> None:
        """Deletes a score in the trash for good: its quota is freed at once, it leaves every setlist, and its files
        are deleted in the background. 404 for a score that is not in the user's trash."""
        await delete_from_trash(user.id, score_id)

    @delete("/", summary="Empty the trash", status_code=200, **documented("emptyTrash"))
    async def empty_trash(self, user: FromDishka[CurrentUser], empty_trash: FromDishka[EmptyTrash]) -> TrashEmptied:
        """Deletes every score in the user's trash for good (as deleting each does) and says how many."""
        return TrashEmptied(await empty_trash(user.id))
