"""/setlists: ordered programmes of scores."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from dishka.integrations.litestar import FromDishka
from litestar import Controller, delete, get, patch, post, put
from litestar.params import Parameter

from application.setlists import (
    AddSetlistItem,
    CreateSetlist,
    DeleteSetlist,
    GetSetlist,
    ListSetlists,
    RemoveSetlistItem,
    ReorderSetlistItems,
    UpdateSetlist,
    UpdateSetlistItem,
)
from domain.errors import ScoreNotFound, SetlistItemNotFound, SetlistNotFound
from entrypoints.http.auth import CurrentUser
from entrypoints.http.openapi import documented
from entrypoints.http.pagination import DEFAULT_LIMIT, Limit, Offset, window
from entrypoints.http.presenters import item_body, setlist_body, setlist_with_items
from entrypoints.http.schemas import (
    NO_NUL,
    AddItemRequest,
    CreateSetlistRequest,
    ReorderRequest,
    SetlistBody,
    SetlistItemBody,
    SetlistPage,
    UpdateItemRequest,
    UpdateSetlistRequest,
    given,
)


class SetlistController(Controller):
    path = "/setlists"
    tags = ["Setlists"]

    @post("/", summary="Create a setlist", **documented("createSetlist", body=True))
    async def create(
        self, data: CreateSetlistRequest, user: FromDishka[CurrentUser], create: FromDishka[CreateSetlist]
    ) -> SetlistBody:
        """An empty setlist; add scores with `POST /api/v1/setlists/{setlist_id}/items`."""
        return setlist_with_items(await create(user.id, data.name, data.description))

    @get("/", summary="List setlists (without items)", **documented("listSetlists"))
    async def list_setlists(
        self,
        user: FromDishka[CurrentUser],
        list_setlists: FromDishka[ListSetlists],
        q: Annotated[
            str | None, Parameter(max_length=200, pattern=NO_NUL, required=False, description="Searches names.")
        ] = None,
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> SetlistPage:
        """The user's setlists, one page at a time, each with its `item_count` but without its items."""
        page = window(limit, offset)
        result = await list_setlists(user.id, q or None, page.limit, page.offset)
        return SetlistPage([setlist_body(s) for s in result.items], result.total, result.limit, result.offset)

    @get(
        "/{setlist_id:uuid}",
        summary="Get a setlist with its items in order",
        **documented("getSetlist", SetlistNotFound, path=True),
    )
    async def get_setlist(
        self, setlist_id: UUID, user: FromDishka[CurrentUser], get_setlist: FromDishka[GetSetlist]
    ) -> SetlistBody:
        """The setlist with `items` ordered by their 0-based, contiguous `position`, each with a summary of its
        score."""
        return setlist_with_items(await get_setlist(user.id, setlist_id))

    @patch(
        "/{setlist_id:uuid}",
        summary="Rename or describe a setlist",
        **documented("updateSetlist", SetlistNotFound, path=True, body=True),
    )
    async def update(
        self,
        setlist_id: UUID,
        data: UpdateSetlistRequest,
        user: FromDishka[CurrentUser],
        update: FromDishka[UpdateSetlist],
    ) -> SetlistBody:
        """Changes only the fields given; `null` clears the description."""
        return setlist_with_items(await update(user.id, setlist_id, given(data.name), given(data.description)))

    @delete(
        "/{setlist_id:uuid}",
        summary="Delete a setlist (its scores stay)",
        **documented("deleteSetlist", SetlistNotFound, path=True),
    )
    async def delete_setlist(
        self, setlist_id: UUID, user: FromDishka[CurrentUser], delete_setlist: FromDishka[DeleteSetlist]
    ) -> None:
        """Deletes the setlist and its items; the scores stay in the library."""
        await delete_setlist(user.id, setlist_id)

    @post(
        "/{setlist_id:uuid}/items",
        summary="Add a score (appended when no position is given)",
        **documented("addSetlistItem", SetlistNotFound, ScoreNotFound, path=True, body=True),
    )
    async def add_item(
        self,
        setlist_id: UUID,
        data: AddItemRequest,
        user: FromDishka[CurrentUser],
        add_item: FromDishka[AddSetlistItem],
    ) -> SetlistItemBody:
        """Inserts the score at `position` (0-based; past the end appends), or appends it. A score may appear
        more than once."""
        item, summary = await add_item(user.id, setlist_id, data.score_id, data.position, data.notes)
        return item_body(item, summary)

    @patch(
        "/{setlist_id:uuid}/items/{item_id:uuid}",
        summary="Move an item or change its notes",
        **documented("updateSetlistItem", SetlistNotFound, SetlistItemNotFound, ScoreNotFound, path=True, body=True),
    )
    async def update_item(
        self,
        setlist_id: UUID,
        item_id: UUID,
        data: UpdateItemRequest,
        user: FromDishka[CurrentUser],
        update_item: FromDishka[UpdateSetlistItem],
    ) -> SetlistItemBody:
        """Moves the item to `position` (the others shift to stay contiguous) and/or changes its `notes`."""
        item, summary = await update_item(user.id, setlist_id, item_id, data.position, given(data.notes))
        return item_body(item, summary)

    @delete(
        "/{setlist_id:uuid}/items/{item_id:uuid}",
        summary="Remove an item",
        **documented("removeSetlistItem", SetlistNotFound, SetlistItemNotFound, path=True),
    )
    async def remove_item(
        self, setlist_id: UUID, item_id: UUID, user: FromDishka[CurrentUser], remove_item: FromDishka[RemoveSetlistItem]
    ) -> None:
        """Removes the item; the positions after it close the gap."""
        await remove_item(user.id, setlist_id, item_id)

    @put(
        "/{setlist_id:uuid}/items/order",
        summary="Reorder all items",
        **documented("reorderSetlistItems", SetlistNotFound, path=True, body=True),
    )
    async def reorder(
        self,
        setlist_id: UUID,
        data: ReorderRequest,
        user: FromDishka[CurrentUser],
        reorder: FromDishka[ReorderSetlistItems],
    ) -> SetlistBody:
        """`item_ids` must be a permutation of all the setlist's item ids; item `i` gets position `i`."""
        return setlist_with_items(await reorder(user.id, setlist_id, data.item_ids))
