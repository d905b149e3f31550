"""/files: presigned upload (reserve, confirm, cancel) and presigned download."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, Parameter

from application.scores import GetDownloadUrl
from application.uploads import CancelUpload, ConfirmUpload, RequestUploadUrl
from domain.errors import (
    AlreadyConfirmed,
    DuplicateScore,
    FileTooLarge,
    InvalidMimeType,
    NotAPdf,
    NotReady,
    QuotaExceeded,
    ScoreNotFound,
    SizeMismatch,
    TooManyRequests,
    UploadIncomplete,
    UploadNotFound,
)
from entrypoints.http.auth import CurrentUser
from entrypoints.http.openapi import (
    CONFIRMED_UPLOAD,
    UPLOAD_ID_REQUEST,
    UPLOAD_TICKET,
    UPLOAD_URL_REQUEST,
    documented,
)
from entrypoints.http.presenters import upload_body
from entrypoints.http.schemas import (
    MAX_PAGE,
    DownloadUrlBody,
    FileType,
    UploadBody,
    UploadIdRequest,
    UploadTicketBody,
    UploadUrlRequest,
)

UploadIdBody = Annotated[UploadIdRequest, Body(examples=UPLOAD_ID_REQUEST)]


# What confirming an upload can answer, also when creating a score confirms it.
CONFIRM_ERRORS = (UploadNotFound, UploadIncomplete, SizeMismatch, NotAPdf)


class FileController(Controller):
    path = "/files"
    tags = ["Files"]

    @post(
        "/upload-url",
        summary="Reserve quota and get a presigned upload request",
        **documented(
            "requestUploadUrl",
            InvalidMimeType,
            FileTooLarge,
            QuotaExceeded,
            DuplicateScore,
            TooManyRequests,
            body=True,
            success={
                201: ResponseSpec(
                    UploadTicketBody,
                    description="The upload ticket; `size_bytes` are now reserved from the quota.",
                    examples=UPLOAD_TICKET,
                    generate_examples=False,
                )
            },
        ),
    )
    async def upload_url(
        self,
        data: Annotated[UploadUrlRequest, Body(examples=UPLOAD_URL_REQUEST)],
        user: FromDishka[CurrentUser],
        request_url: FromDishka[RequestUploadUrl],
    ) -> UploadTicketBody:
        """Step 1 of the upload flow. Reserves `size_bytes` of the user's quota and answers a presigned request.

        Step 2: send the file straight to storage with exactly the returned `method`, `upload_url` and every header
        in `headers` (the bytes never pass through the API), before `expires_at`. The URL stores one file: storage
        refuses (412) to replace a file already stored, so a retry after an upload that did arrive goes on to step 3.

        Step 3: confirm it (`POST /api/v1/files/upload-confirm`, or create the score with `POST /api/v1/scores`,
        which confirms it) or cancel it (`POST /api/v1/files/upload-cancel`). An unconfirmed reservation expires
        after `SCOREMATE_RESERVATION_TTL_SECONDS`.

        With `sha256` (the client's hash of the file), a file of which the user already has a score, in the library
        or in the trash, answers 409 `duplicate_score` with that score's `score_id` and `in_trash`, and reserves
        nothing; `allow_duplicate: true` uploads it anyway."""
        ticket = await request_url(
            user.id,
            data.filename,
            data.content_type,
            data.size_bytes,
            data.sha256,
            allow_duplicate=data.allow_duplicate,
        )
        return UploadTicketBody(
            upload_id=ticket.upload.id,
            upload_url=ticket.request.url,
            method=ticket.request.method,
            headers=ticket.request.headers,
            s3_key=ticket.upload.storage_key,
            expires_in=ticket.expires_in,
            expires_at=ticket.request.expires_at,
        )

    @post(
        "/upload-confirm",
        summary="Confirm a stored upload",
        status_code=200,
        **documented(
            "confirmUpload",
            *CONFIRM_ERRORS,
            body=True,
            success={
                200: ResponseSpec(
                    UploadBody,
                    description="The confirmed upload; its reserved bytes are now used.",
                    examples=CONFIRMED_UPLOAD,
                    generate_examples=False,
                )
            },
        ),
    )
    async def confirm(
        self, data: UploadIdBody, user: FromDishka[CurrentUser], confirm: FromDishka[ConfirmUpload]
    ) -> UploadBody:
        """Checks the stored object: it exists, its size equals the declared `size_bytes`, and `%PDF-` occurs in
        its first 1024 bytes. Then the reserved bytes become used. On `size_mismatch` or `not_a_pdf` the object is
        deleted and the reservation released. Idempotent: confirming again answers the same upload."""
        return upload_body(await confirm(user.id, data.upload_id))

    @post(
        "/upload-cancel",
        summary="Cancel a pending upload",
        status_code=200,
        **documented("cancelUpload", UploadNotFound, AlreadyConfirmed, body=True),
    )
    async def cancel(
        self, data: UploadIdBody, user: FromDishka[CurrentUser], cancel: FromDishka[CancelUpload]
    ) -> UploadBody:
        """Releases the reservation and deletes anything already stored. Idempotent."""
        return upload_body(await cancel(user.id, data.upload_id))

    @get(
        "/download-url", summary="Get a presigned download URL", **documented("getDownloadUrl", ScoreNotFound, NotReady)
    )
    async def download_url(
        self,
        user: FromDishka[CurrentUser],
        get_download_url: FromDishka[GetDownloadUrl],
        score_id: UUID,
        file_type: Annotated[
            FileType,
            Parameter(description="The original PDF, the cover thumbnail, or one page's thumbnail (needs `page`)."),
        ] = "original",
        page: Annotated[
            int | None, Parameter(ge=1, le=MAX_PAGE, required=False, description="1-based page number.")
        ] = None,
    ) -> DownloadUrlBody:
        """A presigned GET URL of a score's file that expires after `expires_in` seconds. Thumbnails are JPEG
        (quality 85, within 300x400 px); `not_ready` means the thumbnail has not been generated yet."""
        link = await get_download_url(user.id, score_id, file_type, page)
        return DownloadUrlBody(link.url, link.expires_in, link.expires_at)
