"""/scores: the library."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from dishka.integrations.litestar import FromDishka
from litestar import Controller, delete, get, patch, post
from litestar.params import Parameter

from application.ports import ScoreQuery
from application.scores import (
    CreateScore,
    DeleteScore,
    GetScore,
    ListScores,
    RequestCover,
    RequestInfoRefresh,
    RequestPageThumbnails,
    UpdateScore,
)
from domain.errors import ScoreNotFound, TooManyRequests, UploadAlreadyUsed
from domain.scores import DetailChanges, ProcessingStatus
from entrypoints.http.auth import CurrentUser
from entrypoints.http.etag import revalidated
from entrypoints.http.files import CONFIRM_ERRORS
from entrypoints.http.openapi import documented
from entrypoints.http.pagination import DEFAULT_LIMIT, Limit, Offset, window
from entrypoints.http.presenters import score_body
from entrypoints.http.schemas import (
    NO_NUL,
    CreateScoreRequest,
    RegenerateThumbnailRequest,
    ScoreBody,
    ScorePage,
    TaskAccepted,
    UpdateScoreRequest,
    given,
)

Ordering = Literal["title", "-title", "created_at", "-created_at", "composer", "-composer"]
Filter = Annotated[str | None, Parameter(max_length=300, pattern=NO_NUL, required=False)]


def _created(data: CreateScoreRequest) -> DetailChanges:
    return DetailChanges(data.title, data.composer, data.genre, data.tags or [], data.description)


def _changes(data: UpdateScoreRequest) -> DetailChanges:
    tags = given(data.tags)
    return DetailChanges(
        given(data.title),
        given(data.composer),
        given(data.genre),
        [] if tags is None else tags,
        given(data.description),
    )


class ScoreController(Controller):
    path = "/scores"
    tags = ["Scores"]

    @post(
        "/",
        summary="Create a score from an upload",
        **documented("createScore", *CONFIRM_ERRORS, UploadAlreadyUsed, body=True),
    )
    async def create(
        self, data: CreateScoreRequest, user: FromDishka[CurrentUser], create: FromDishka[CreateScore]
    ) -> ScoreBody:
        """Makes a score of an upload; a pending upload is confirmed first (so it can answer confirm's errors).
        Page count, metadata and the cover thumbnail are made in the background: poll the score until
        `processing_status` is `ready` or `failed`."""
        return score_body(await create(user.id, data.upload_id, _created(data)))

    @get("/", summary="Search and list scores", **revalidated(documented("listScores")))
    async def list_scores(
        self,
        user: FromDishka[CurrentUser],
        list_scores: FromDishka[ListScores],
        q: Filter = None,
        composer: Filter = None,
        genre: Filter = None,
        tag: Filter = None,
        status: ProcessingStatus | None = None,
        ordering: Ordering = "-created_at",
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> ScorePage:
        """The user's scores, one page at a time. `q` finds a substring of the title or the composer, ignoring case;
        `composer` and `genre` filter by value (ignoring case), `tag` by a whole tag (ignoring case and accents),
        `status` by processing status. Titles and composers sort ignoring case and accents; scores without a
        composer come last either way."""
        page = window(limit, offset)
        query = ScoreQuery(
            user.id, q or None, composer or None, genre or None, tag or None, status, ordering, page.limit, page.offset
        )
        result = await list_scores(query)
        return ScorePage([score_body(score) for score in result.items], result.total, result.limit, result.offset)

    @get("/{score_id:uuid}", summary="Get a score", **revalidated(documented("getScore", ScoreNotFound, path=True)))
    async def get_score(
        self, score_id: UUID, user: FromDishka[CurrentUser], get_score: FromDishka[GetScore]
    ) -> ScoreBody:
        """One score with its processing state; another user's score answers 404 like a missing one."""
        return score_body(await get_score(user.id, score_id))

    @patch(
        "/{score_id:uuid}",
        summary="Edit a score's details",
        **documented("updateScore", ScoreNotFound, path=True, body=True),
    )
    async def update(
        self,
        score_id: UUID,
        data: UpdateScoreRequest,
        user: FromDishka[CurrentUser],
        update: FromDishka[UpdateScore],
    ) -> ScoreBody:
        """Changes only the fields given; `null` clears composer, genre, tags or description."""
        return score_body(await update(user.id, score_id, _changes(data)))

    @delete(
        "/{score_id:uuid}", summary="Move a score to the trash", **documented("deleteScore", ScoreNotFound, path=True)
    )
    async def delete_score(
        self, score_id: UUID, user: FromDishka[CurrentUser], delete_score: FromDishka[DeleteScore]
    ) -> None:
        """Moves it to the trash (see /trash): it leaves the library and its setlists' reads, its bytes still count
        as used quota. With `SCOREMATE_TRASH_RETENTION_DAYS=0` there is no trash: this deletes it for good, frees its
        quota at once, removes it from setlists and deletes its files in the background."""
        await delete_score(user.id, score_id)

    @post(
        "/{score_id:uuid}/regenerate_thumbnail",
        summary="Render the cover again",
        status_code=202,
        **documented("regenerateThumbnail", ScoreNotFound, TooManyRequests, path=True, body=True),
    )
    async def regenerate_thumbnail(
        self,
        score_id: UUID,
        user: FromDishka[CurrentUser],
        request_cover: FromDishka[RequestCover],
        data: RegenerateThumbnailRequest | None = None,
    ) -> TaskAccepted:
        """Queues rendering the cover thumbnail from `page` (default 1); the body may be left out."""
        page = data.page if data else 1
        return TaskAccepted(await request_cover(user.id, score_id, page))

    @post(
        "/{score_id:uuid}/refresh_info",
        summary="Read page count and metadata again",
        status_code=202,
        **documented("refreshInfo", ScoreNotFound, TooManyRequests, path=True),
    )
    async def refresh_info(
        self, score_id: UUID, user: FromDishka[CurrentUser], request_refresh: FromDishka[RequestInfoRefresh]
    ) -> TaskAccepted:
        """Queues reading the PDF's page count and metadata again, then the cover thumbnail if there is none (a
        cover made from another page by `regenerate_thumbnail` stays)."""
        return TaskAccepted(await request_refresh(user.id, score_id))

    @post(
        "/{score_id:uuid}/generate_all_thumbnails",
        summary="Render every page's thumbnail",
        status_code=202,
        **documented("generateAllThumbnails", ScoreNotFound, TooManyRequests, path=True),
    )
    async def generate_all_thumbnails(
        self, score_id: UUID, user: FromDishka[CurrentUser], request_pages: FromDishka[RequestPageThumbnails]
    ) -> TaskAccepted:
        """Queues rendering a thumbnail of every page (up to `SCOREMATE_MAX_PAGE_THUMBNAILS`);
        `page_thumbnails_ready` counts them as they appear."""
        return TaskAccepted(await request_pages(user.id, score_id))
