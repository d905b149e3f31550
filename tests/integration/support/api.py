"""A small client of the ScoreMate API, as a client author would write one from API.md."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.integration.support.server import CORPUS


@dataclass
class User:
    client: httpx.AsyncClient
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.get(path, headers=self.headers, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.post(path, headers=self.headers, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.patch(path, headers=self.headers, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.put(path, headers=self.headers, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.client.delete(path, headers=self.headers, **kwargs)

    async def quota(self) -> dict[str, int]:
        response = await self.get("/api/v1/auth/me")
        assert response.status_code == 200, response.text
        quota: dict[str, int] = response.json()["quota"]
        return quota

    async def request_upload(self, data: bytes, filename: str = "score.pdf", size: int | None = None) -> dict[str, Any]:
        response = await self.post(
            "/api/v1/files/upload-url",
            json={"filename": filename, "content_type": "application/pdf", "size_bytes": size or len(data)},
        )
        assert response.status_code == 201, response.text
        ticket: dict[str, Any] = response.json()
        return ticket

    async def send_file(self, ticket: dict[str, Any], data: bytes) -> httpx.Response:
        async with httpx.AsyncClient(timeout=60) as storage:
            return await storage.request(
                ticket["method"], ticket["upload_url"], headers=ticket["headers"], content=data
            )

    async def upload(self, data: bytes, filename: str = "score.pdf") -> dict[str, Any]:
        """upload-url, then PUT to storage exactly as the ticket says."""
        ticket = await self.request_upload(data, filename)
        stored = await self.send_file(ticket, data)
        assert stored.status_code in (200, 204), stored.text
        return ticket

    async def create_score(self, data: bytes, title: str = "Score", **details: Any) -> dict[str, Any]:
        ticket = await self.upload(data)
        response = await self.post("/api/v1/scores", json={"upload_id": ticket["upload_id"], "title": title, **details})
        assert response.status_code == 201, response.text
        score: dict[str, Any] = response.json()
        return score

    async def wait_for_score(self, score_id: str, timeout: float = 60, **until: Any) -> dict[str, Any]:
        """Poll until processing has finished (and any extra fields have the given values)."""
        deadline = time.monotonic() + timeout
        while True:
            response = await self.get(f"/api/v1/scores/{score_id}")
            assert response.status_code == 200, response.text
            score: dict[str, Any] = response.json()
            finished = score["processing_status"] in ("ready", "failed")
            if finished and all(score[key] == value for key, value in until.items()):
                return score
            if time.monotonic() > deadline:
                raise AssertionError(f"score did not finish processing in {timeout} s: {score}")
            await asyncio.sleep(0.1)

    async def download(self, score_id: str, file_type: str, page: int | None = None) -> httpx.Response:
        params: dict[str, Any] = {"score_id": score_id, "file_type": file_type}
        if page is not None:
            params["page"] = page
        link = await self.get("/api/v1/files/download-url", params=params)
        assert link.status_code == 200, link.text
        async with httpx.AsyncClient(timeout=60) as storage:
            return await storage.get(link.json()["download_url"])


def expect_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert (body["status_code"], body["code"]) == (status, code), body


async def register(client: httpx.AsyncClient, password: str = "correct horse battery") -> User:
    email = f"musician-{uuid.uuid4().hex[:12]}@example.com"
    response = await client.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return User(client, email, password, login.json()["access_token"])


def corpus_file(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def corpus_path(name: str) -> Path:
    return CORPUS / name


# How an upload ends while its URL may still store a file (issue 18): each keeps the bytes reserved until then.
ENDINGS = ("cancel", "size_mismatch", "not_a_pdf", "score_deleted")


async def end_upload(user: User, trigger: str, pdf: bytes) -> dict[str, Any]:
    """An upload of `pdf`'s size ended by `trigger`; returns its ticket, whose URL may still be valid."""
    if trigger == "cancel":
        ticket = await user.request_upload(pdf)
        response = await user.post("/api/v1/files/upload-cancel", json={"upload_id": ticket["upload_id"]})
        assert response.status_code == 200, response.text
    elif trigger in ("size_mismatch", "not_a_pdf"):
        ticket = await user.request_upload(pdf)
        sent = pdf[:-1] if trigger == "size_mismatch" else b"<html>" + b"x" * (len(pdf) - 6)
        stored = await user.send_file(ticket, sent)
        assert stored.status_code in (200, 204), stored.text
        response = await user.post("/api/v1/files/upload-confirm", json={"upload_id": ticket["upload_id"]})
        assert (response.status_code, response.json()["code"]) == (400, trigger)
    else:
        ticket = await user.upload(pdf)
        created = await user.post("/api/v1/scores", json={"upload_id": ticket["upload_id"], "title": "Gone"})
        assert created.status_code == 201, created.text
        deleted = await user.delete(f"/api/v1/scores/{created.json()['id']}")
        assert deleted.status_code == 204, deleted.text
        purged = await user.delete(f"/api/v1/trash/{created.json()['id']}")  # for good: out of the trash
        assert purged.status_code == 204, purged.text
    return ticket


async def wait_for_reserved(user: User, reserved_bytes: int, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (quota := await user.quota())["reserved_bytes"] != reserved_bytes:
        assert asyncio.get_running_loop().time() < deadline, quota
        await asyncio.sleep(0.25)
