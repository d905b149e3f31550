"""/files: presigned upload (reserve, confirm, cancel) and presigned download."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from dishka.integrations.litestar import FromDishka
from litestar import Controller, get, post
from litestar.params import Parameter

from application.scores import GetDownloadUrl
from application.uploads import CancelUpload, ConfirmUpload, RequestUploadUrl
from entrypoints.http.auth import CurrentUser
from entrypoints.http.presenters import upload_body
from entrypoints.http.schemas import (
    DownloadUrlBody,
    FileType,
    UploadBody,
    UploadIdRequest,
    UploadTicketBody,
    UploadUrlRequest,
)


class FileController(Controller):
    path = "/files"
    tags = ["Files"]

    @post("/upload-url", summary="Reserve quota and get a presigned upload request")
    async def upload_url(
        self, data: UploadUrlRequest, user: FromDishka[CurrentUser], request_url: FromDishka[RequestUploadUrl]
    ) -> UploadTicketBody:
        """Send the file with exactly the returned `method`, `upload_url` and `headers`, then confirm it."""
        ticket = await request_url(user.id, data.filename, data.content_type, data.size_bytes)
        return UploadTicketBody(
            upload_id=ticket.upload.id,
            upload_url=ticket.request.url,
            method=ticket.request.method,
            headers=ticket.request.headers,
            s3_key=ticket.upload.storage_key,
            expires_in=ticket.expires_in,
            expires_at=ticket.request.expires_at,
        )

    @post("/upload-confirm", summary="Confirm a stored upload", status_code=200)
    async def confirm(
        self, data: UploadIdRequest, user: FromDishka[CurrentUser], confirm: FromDishka[ConfirmUpload]
    ) -> UploadBody:
        """Checks the stored object's size and PDF signature; reserved bytes become used. Idempotent."""
        return upload_body(await confirm(user.id, data.upload_id))

    @post("/upload-cancel", summary="Cancel a pending upload", status_code=200)
    async def cancel(
        self, data: UploadIdRequest, user: FromDishka[CurrentUser], cancel: FromDishka[CancelUpload]
    ) -> UploadBody:
        """Releases the reservation and deletes anything already stored. Idempotent."""
        return upload_body(await cancel(user.id, data.upload_id))

    @get("/download-url", summary="Get a presigned download URL")
    async def download_url(
        self,
        user: FromDishka[CurrentUser],
        get_download_url: FromDishka[GetDownloadUrl],
        score_id: UUID,
        file_type: FileType = "original",
        page: Annotated[int | None, Parameter(ge=1, required=False)] = None,
    ) -> DownloadUrlBody:
        link = await get_download_url(user.id, score_id, file_type, page)
        return DownloadUrlBody(link.url, link.expires_in, link.expires_at)
