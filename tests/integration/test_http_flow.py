"""The complete upload flow and its failure modes against `scoremate serve` on the embedded default."""

from __future__ import annotations

import asyncio
import io
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from PIL import Image

from adapters.storage.local import LocalObjectStorage
from tests.integration.support import samples
from tests.integration.support.api import ENDINGS, User, end_upload, register, wait_for_reserved
from tests.integration.support.server import Server, render_processes, serve, signing_key

ETUDE = samples.etude()
ODE = samples.ode()
QUOTA = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(
        tmp_path_factory.mktemp("flow-server"),
        default_quota_bytes=QUOTA,
        upload_rate_limit="1000/minute",
        task_retry_base_seconds=0.05,
    ) as running:
        yield running


def stored_files(server: Server) -> set[Path]:
    root = server.data_dir / "objects"
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- the happy path ----------------------------------------------------------------------------


def test_the_render_processes_start_with_the_server(tmp_path: Path) -> None:
    with serve(tmp_path, render_processes=2) as fresh:
        # Ready before the first score arrives, so its cover does not wait for PyMuPDF to load.
        assert len(render_processes(fresh.process)) == 2


async def test_register_login_upload_confirm_create_process_and_download(alice: User, server: Server) -> None:
    ticket = await alice.request_upload(ETUDE, "Etude in all keys.pdf")
    assert ticket["method"] == "PUT"
    assert ticket["headers"]["Content-Type"] == "application/pdf"
    assert (
        ticket["s3_key"]
        == f"{(await alice.get('/api/v1/auth/me')).json()['id']}/scores/{ticket['upload_id']}/original.pdf"
    )
    assert ticket["expires_in"] == 300
    assert (await alice.quota())["reserved_bytes"] == len(ETUDE)

    stored = await alice.send_file(ticket, ETUDE)
    assert stored.status_code == 200
    confirmed = await alice.post("/api/v1/files/upload-confirm", json={"upload_id": ticket["upload_id"]})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "confirmed"
    quota = await alice.quota()
    assert (quota["used_bytes"], quota["reserved_bytes"]) == (len(ETUDE), 0)
    assert quota["available_bytes"] == QUOTA - len(ETUDE)

    created = await alice.post(
        "/api/v1/scores", json={"upload_id": ticket["upload_id"], "title": "Etude", "tags": ["practice"]}
    )
    assert created.status_code == 201, created.text
    score = created.json()
    assert score["processing_status"] in ("pending", "processing", "ready")
    assert score["original_filename"] == "Etude in all keys.pdf"

    score = await alice.wait_for_score(score["id"])
    assert score["processing_status"] == "ready"
    assert score["page_count"] == 8
    assert score["thumbnail_ready"] is True
    assert score["tags"] == ["practice"]  # the user's tags are not replaced by the PDF's keywords
    assert score["composer"] == "Anton Corpus"

    thumbnail = await alice.download(score["id"], "thumbnail")
    image = Image.open(io.BytesIO(thumbnail.content))
    assert (image.format, thumbnail.headers["content-type"]) == ("JPEG", "image/jpeg")
    assert abs(image.size[0] - 283) <= 1
    assert image.size[1] == 400
    original = await alice.download(score["id"], "original")
    assert original.content == ETUDE
    assert "Etude%20in%20all%20keys.pdf" in original.headers["content-disposition"]


async def test_confirm_and_cancel_are_idempotent_and_count_quota_once(alice: User) -> None:
    ticket = await alice.upload(ODE)
    for _ in range(3):
        response = await alice.post("/api/v1/files/upload-confirm", json={"upload_id": ticket["upload_id"]})
        assert response.status_code == 200
        assert response.json()["status"] == "confirmed"
    assert (await alice.quota())["used_bytes"] == len(ODE)
    cancel = await alice.post("/api/v1/files/upload-cancel", json={"upload_id": ticket["upload_id"]})
    assert (cancel.status_code, cancel.json()["code"]) == (409, "already_confirmed")

    pending = await alice.request_upload(ODE)
    for _ in range(2):
        response = await alice.post("/api/v1/files/upload-cancel", json={"upload_id": pending["upload_id"]})
        assert response.status_code == 200
        assert response.json()["status"] == "cancelled"
    quota = await alice.quota()
    # The cancelled upload's bytes stay reserved while its URL lives (test_quota_holds.py).
    assert (quota["used_bytes"], quota["reserved_bytes"]) == (len(ODE), len(ODE))
    confirm = await alice.post("/api/v1/files/upload-confirm", json={"upload_id": pending["upload_id"]})
    assert (confirm.status_code, confirm.json()["code"]) == (404, "upload_not_found")


async def test_cancel_after_sending_deletes_the_stored_object(alice: User, server: Server) -> None:
    ticket = await alice.upload(ODE)
    key_path = server.data_dir / "objects" / ticket["s3_key"]
    assert key_path.is_file()
    response = await alice.post("/api/v1/files/upload-cancel", json={"upload_id": ticket["upload_id"]})
    assert response.status_code == 200
    assert not key_path.exists()
    assert (await alice.quota())["reserved_bytes"] == len(ODE)  # until its URL lapsed and housekeeping cleared it


async def test_create_score_confirms_a_pending_upload_and_an_upload_makes_one_score(alice: User) -> None:
    ticket = await alice.upload(ODE)
    first = await alice.post("/api/v1/scores", json={"upload_id": ticket["upload_id"], "title": "Ode"})
    assert first.status_code == 201
    assert (await alice.quota())["used_bytes"] == len(ODE)
    again = await alice.post("/api/v1/scores", json={"upload_id": ticket["upload_id"], "title": "Ode again"})
    assert (again.status_code, again.json()["code"]) == (409, "upload_already_used")


async def test_deleting_a_score_for_good_frees_quota_and_removes_its_files(alice: User, server: Server) -> None:
    score = await alice.create_score(ODE, title="Ode")
    score = await alice.wait_for_score(score["id"], thumbnail_ready=True)
    prefix = server.data_dir / "objects" / (await alice.get("/api/v1/auth/me")).json()["id"] / "scores"
    folder = prefix / score["upload_id"]
    assert (folder / "original.pdf").is_file()
    assert len(list(folder.glob("cover-*.jpg"))) == 1
    for private in (folder / "original.pdf", server.data_dir / "scoremate.db", server.data_dir / "objects"):
        assert private.stat().st_mode & 0o077 == 0, private  # neither group nor others may read

    response = await alice.delete(f"/api/v1/scores/{score['id']}")
    assert response.status_code == 204
    assert (await alice.quota())["used_bytes"] == len(ODE)  # in the trash: still counted, files kept
    assert (folder / "original.pdf").is_file()
    response = await alice.delete(f"/api/v1/trash/{score['id']}")
    assert response.status_code == 204
    assert (await alice.quota())["used_bytes"] == 0  # reserved while its URL lives (test_quota_holds.py)
    for _ in range(100):
        if not folder.exists():
            break
        await asyncio.sleep(0.05)
    assert not folder.exists()
    assert (await alice.get(f"/api/v1/scores/{score['id']}")).status_code == 404


async def test_processing_that_keeps_failing_ends_with_a_reason(alice: User, server: Server) -> None:
    score = await alice.create_score(ODE, title="Ode")
    score = await alice.wait_for_score(score["id"], thumbnail_ready=True)
    (
        server.data_dir
        / "objects"
        / f"{(await alice.get('/api/v1/auth/me')).json()['id']}"
        / "scores"
        / score["upload_id"]
        / "original.pdf"
    ).unlink()  # storage lost the file: every retry fails

    accepted = await alice.post(f"/api/v1/scores/{score['id']}/refresh_info")
    assert accepted.status_code == 202
    for _ in range(100):
        current = (await alice.get(f"/api/v1/scores/{score['id']}")).json()
        if current["processing_error_code"] == "processing_failed":
            break
        await asyncio.sleep(0.1)
    assert current["processing_error"] == "Processing failed repeatedly; try refreshing the score's info."
    # Its document was read before: what it said then stands, so the score is ready, not failed.
    assert (current["processing_status"], current["page_count"]) == ("ready", score["page_count"])
    log = server.process.log()
    assert "retry 3 of 3" in log
    assert "gave up after 3 retries" in log


async def test_page_thumbnails_that_keep_failing_end_with_a_reason_that_says_what_to_do(
    alice: User, server: Server
) -> None:
    score = await alice.create_score(ODE, title="Ode")
    score = await alice.wait_for_score(score["id"], thumbnail_ready=True)
    user_id = (await alice.get("/api/v1/auth/me")).json()["id"]
    (server.data_dir / "objects" / user_id / "scores" / score["upload_id"] / "original.pdf").unlink()

    assert (await alice.post(f"/api/v1/scores/{score['id']}/generate_all_thumbnails")).status_code == 202
    for _ in range(100):
        current = (await alice.get(f"/api/v1/scores/{score['id']}")).json()
        if current["processing_error_code"] == "processing_failed":
            break
        await asyncio.sleep(0.1)
    assert current["processing_error"] == (
        "Page thumbnails stopped because a service they need kept failing; generate them again."
    )
    assert (current["processing_status"], current["page_thumbnails_ready"]) == ("ready", 0)


async def test_downloads_serve_byte_ranges_for_progressive_viewers(alice: User) -> None:
    score = await alice.create_score(ODE, title="Ode")
    link = await alice.get("/api/v1/files/download-url", params={"score_id": score["id"], "file_type": "original"})
    url = link.json()["download_url"]
    async with httpx.AsyncClient() as storage:
        whole = await storage.get(url)
        assert (whole.status_code, whole.headers["accept-ranges"], whole.content) == (200, "bytes", ODE)
        head = await storage.get(url, headers={"Range": "bytes=0-1023"})
        assert (head.status_code, head.content) == (206, ODE[:1024])
        assert head.headers["content-range"] == f"bytes 0-1023/{len(ODE)}"
        tail = await storage.get(url, headers={"Range": "bytes=-10"})
        assert (tail.status_code, tail.content) == (206, ODE[-10:])
        middle = await storage.get(url, headers={"Range": f"bytes=1000-{len(ODE) + 50}"})
        assert (middle.status_code, middle.content) == (206, ODE[1000:])
        past = await storage.get(url, headers={"Range": f"bytes={len(ODE)}-"})
        assert (past.status_code, past.headers["content-range"]) == (416, f"bytes */{len(ODE)}")
        # A client resuming a download says which version it has; another version comes whole.
        assert head.headers["etag"] == whole.headers["etag"]
        same = await storage.get(url, headers={"Range": "bytes=10-19", "If-Range": whole.headers["etag"]})
        assert (same.status_code, same.content) == (206, ODE[10:20])
        other = await storage.get(url, headers={"Range": "bytes=10-19", "If-Range": '"another-version"'})
        assert (other.status_code, other.content) == (200, ODE)


# --- refusals by storage -------------------------------------------------------------------------


async def test_a_download_url_cannot_be_respelled_to_serve_the_file_inline(alice: User) -> None:
    ticket = await alice.request_upload(ODE, "x=y.pdf")
    await alice.send_file(ticket, ODE)
    created = await alice.post("/api/v1/scores", json={"upload_id": ticket["upload_id"], "title": "Ode"})
    link = await alice.get("/api/v1/files/download-url", params={"score_id": created.json()["id"]})
    url = link.json()["download_url"]
    async with httpx.AsyncClient() as storage:
        signed = await storage.get(url)
        # Under the old signature, "filename%3Dx" = "y.pdf" signed the same as "filename" = "x=y.pdf".
        respelled = await storage.get(url.replace("filename=x%3Dy.pdf", "filename%3Dx=y.pdf"))
    assert signed.status_code == 200
    assert signed.headers["content-disposition"].startswith("attachment;")
    assert signed.headers["x-content-type-options"] == "nosniff"
    assert respelled.status_code == 403


async def test_storage_refuses_tampered_expired_and_misused_urls(alice: User) -> None:
    ticket = await alice.request_upload(ODE)
    url = ticket["upload_url"]
    async with httpx.AsyncClient() as storage:
        headers = ticket["headers"]
        tampered_key = url.replace("original.pdf", "other.pdf")
        assert (await storage.put(tampered_key, headers=headers, content=ODE)).status_code == 403
        bigger = _with_query(url, max_size=str(10 * len(ODE)))
        assert (await storage.put(bigger, headers=headers, content=ODE)).status_code == 403
        forged = _with_query(url, signature="0" * 64)
        assert (await storage.put(forged, headers=headers, content=ODE)).status_code == 403
        not_even_hex = _with_query(url, signature="é" * 64)
        assert (await storage.put(not_even_hex, headers=headers, content=ODE)).status_code == 403
        unsigned_extra = _with_query(url, filename="evil.html")
        assert (await storage.put(unsigned_extra, headers=headers, content=ODE)).status_code == 403
        wrong_type = await storage.put(url, headers={"Content-Type": "text/html"}, content=ODE)
        assert wrong_type.status_code == 403
        too_big = await storage.put(url, headers=headers, content=ODE + b"x" * 1000)
        assert (too_big.status_code, too_big.json()["code"]) == (413, "file_too_large")
        as_download = await storage.get(url)
        assert as_download.status_code == 403

        key = ticket["s3_key"]
        origin = urlsplit(url)
        signer = LocalObjectStorage(
            Path("/nonexistent"), f"{origin.scheme}://{origin.netloc}", signing_key("storage-urls").encode()
        )
        expired = await signer.presign_upload(key, "application/pdf", len(ODE), expires_in=-5)
        response = await storage.put(expired.url, headers=headers, content=ODE)
        assert response.status_code == 403
        assert "expired" in response.json()["detail"]
        assert (await storage.put(url, headers=headers, content=ODE)).status_code == 200


async def test_an_upload_url_cannot_replace_the_file_it_stored(alice: User, server: Server) -> None:
    ticket = await alice.upload(ODE)
    confirmed = await alice.post("/api/v1/files/upload-confirm", json={"upload_id": ticket["upload_id"]})
    assert confirmed.status_code == 200, confirmed.text
    same_size = b"%PDF-" + bytes(len(ODE) - 5)

    again = await alice.send_file(ticket, same_size)

    assert (again.status_code, again.json()["code"]) == (412, "precondition_failed")
    assert (server.data_dir / "objects" / ticket["s3_key"]).read_bytes() == ODE
    assert list((server.data_dir / "objects" / ticket["s3_key"]).parent.glob(".*.part")) == []


async def test_an_upload_the_client_breaks_off_stores_nothing_and_is_no_server_error(
    alice: User, server: Server
) -> None:
    ticket = await alice.request_upload(ETUDE)
    url = urlsplit(ticket["upload_url"])
    headers = {**ticket["headers"], "Host": url.netloc, "Content-Length": str(len(ETUDE))}
    head = f"PUT {url.path}?{url.query} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    _, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(head.encode() + b"\r\n" + ETUDE[: len(ETUDE) // 2])
    await writer.drain()
    writer.close()
    await writer.wait_closed()

    access_line = f"PUT {url.path} "
    deadline = asyncio.get_running_loop().time() + 15
    while access_line not in server.process.log():
        assert asyncio.get_running_loop().time() < deadline, server.process.log()
        await asyncio.sleep(0.05)
    logged = next(line for line in server.process.log().splitlines() if access_line in line)
    assert f"{access_line}499 " in logged
    stored = server.data_dir / "objects" / ticket["s3_key"]
    assert not stored.exists()
    assert list(stored.parent.glob(".*.part")) == []
    incomplete = await alice.post("/api/v1/files/upload-confirm", json={"upload_id": ticket["upload_id"]})
    assert (incomplete.status_code, incomplete.json()["code"]) == (409, "upload_incomplete")


async def test_sigterm_stops_the_server_within_its_grace_even_while_an_upload_trickles_in(tmp_path: Path) -> None:
    with serve(tmp_path, shutdown_grace_seconds=1) as stopping:
        async with httpx.AsyncClient(base_url=stopping.base_url, timeout=30) as client:
            musician = await register(client)
            ticket = await musician.request_upload(ETUDE)
        url = urlsplit(ticket["upload_url"])
        headers = {**ticket["headers"], "Host": url.netloc, "Content-Length": str(len(ETUDE))}
        head = f"PUT {url.path}?{url.query} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        _, writer = await asyncio.open_connection(url.hostname, url.port)
        writer.write(head.encode() + b"\r\n" + ETUDE[:1000])
        await writer.drain()
        started = time.monotonic()
        stopping.process.process.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(stopping.process.process.wait, 20)
        stopped_after = time.monotonic() - started
        writer.close()
    assert exit_code == -signal.SIGTERM  # uvicorn ends by raising the signal it handled again
    assert stopped_after < 10, stopped_after
    assert "Cancel 1 running task(s), timeout graceful shutdown exceeded" in stopping.process.log()


async def test_page_thumbnails_asked_for_before_a_restart_are_made_after_it(tmp_path: Path) -> None:
    """The embedded server's task queue is in memory: what it held is asked for again when it starts."""
    with serve(tmp_path) as first:
        async with httpx.AsyncClient(base_url=first.base_url, timeout=30) as client:
            musician = await register(client)
            score = await musician.create_score(samples.tiny_pages(), title="Two thousand pages")
            await musician.wait_for_score(score["id"], thumbnail_ready=True)
            assert (await musician.post(f"/api/v1/scores/{score['id']}/generate_all_thumbnails")).status_code == 202
            before = (await musician.get(f"/api/v1/scores/{score['id']}")).json()
        assert before["page_thumbnails_ready"] < 2000  # the server stops in the middle of the run
    with serve(tmp_path) as second:
        async with httpx.AsyncClient(base_url=second.base_url, timeout=30) as client:
            musician.client = client
            after = await musician.wait_for_score(score["id"], timeout=120, page_thumbnails_ready=2000)
    assert (after["processing_status"], after["processing_error"]) == ("ready", None)


async def test_confirm_refuses_missing_short_and_non_pdf_objects_and_releases_quota(
    alice: User, server: Server
) -> None:
    ticket = await alice.request_upload(ODE)
    missing = await alice.post("/api/v1/files/upload-confirm", json={"upload_id": ticket["upload_id"]})
    assert (missing.status_code, missing.json()["code"]) == (409, "upload_incomplete")

    await alice.send_file(ticket, ODE[:1000])
    short = await alice.post("/api/v1/files/upload-confirm", json={"upload_id": ticket["upload_id"]})
    assert (short.status_code, short.json()["code"]) == (400, "size_mismatch")
    again = await alice.post("/api/v1/files/upload-confirm", json={"upload_id": ticket["upload_id"]})
    assert (again.status_code, again.json()["code"]) == (400, "size_mismatch")  # repeating answers the same
    assert not (server.data_dir / "objects" / ticket["s3_key"]).exists()

    html = b"<html><body>not a score</body></html>" * 10
    other = await alice.upload(html, "fake.pdf")
    rejected = await alice.post("/api/v1/files/upload-confirm", json={"upload_id": other["upload_id"]})
    assert (rejected.status_code, rejected.json()["code"]) == (400, "not_a_pdf")
    assert not (server.data_dir / "objects" / other["s3_key"]).exists()
    quota = await alice.quota()
    assert quota["used_bytes"] == 0  # the rejected bytes stay reserved while their URLs live (test_quota_holds.py)


async def test_pdf_signature_is_accepted_anywhere_in_the_first_kilobyte(alice: User) -> None:
    data = b"\0" * 500 + ODE
    ticket = await alice.upload(data)
    confirmed = await alice.post("/api/v1/files/upload-confirm", json={"upload_id": ticket["upload_id"]})
    assert confirmed.status_code == 200, confirmed.text


# --- quota ---------------------------------------------------------------------------------------


async def test_quota_is_enforced_and_released_by_cancel(alice: User) -> None:
    first = await alice.post(
        "/api/v1/files/upload-url",
        json={"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": QUOTA - 1000},
    )
    assert first.status_code == 201
    refused = await alice.post(
        "/api/v1/files/upload-url", json={"filename": "b.pdf", "content_type": "application/pdf", "size_bytes": 2000}
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "quota_exceeded")
    await alice.post("/api/v1/files/upload-cancel", json={"upload_id": first.json()["upload_id"]})
    # Its URL could still store the file: the bytes stay reserved until it lapsed and housekeeping cleared it.
    held = await alice.post(
        "/api/v1/files/upload-url", json={"filename": "b.pdf", "content_type": "application/pdf", "size_bytes": 2000}
    )
    assert (held.status_code, held.json()["code"]) == (409, "quota_exceeded")


async def test_concurrent_reservations_never_pass_the_limit(alice: User) -> None:
    size = QUOTA // 4
    body = {"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": size}
    responses = await asyncio.gather(*(alice.post("/api/v1/files/upload-url", json=body) for _ in range(12)))
    assert sorted(r.status_code for r in responses) == [201] * 4 + [409] * 8
    assert (await alice.quota())["reserved_bytes"] == 4 * size


# --- isolation and auth --------------------------------------------------------------------------


async def test_another_users_things_are_404_everywhere(alice: User, bob: User) -> None:
    score = await alice.create_score(ODE, title="Private")
    ticket = await alice.request_upload(ODE)
    upload_body = {"upload_id": ticket["upload_id"]}
    probes = [
        await bob.get(f"/api/v1/scores/{score['id']}"),
        await bob.patch(f"/api/v1/scores/{score['id']}", json={"title": "Mine now"}),
        await bob.delete(f"/api/v1/scores/{score['id']}"),
        await bob.post(f"/api/v1/scores/{score['id']}/refresh_info"),
        await bob.post(f"/api/v1/scores/{score['id']}/regenerate_thumbnail", json={"page": 1}),
        await bob.post(f"/api/v1/scores/{score['id']}/generate_all_thumbnails"),
        await bob.get("/api/v1/files/download-url", params={"score_id": score["id"], "file_type": "original"}),
        await bob.post("/api/v1/files/upload-confirm", json=upload_body),
        await bob.post("/api/v1/files/upload-cancel", json=upload_body),
        await bob.post("/api/v1/scores", json={**upload_body, "title": "Stolen"}),
    ]
    assert [p.status_code for p in probes] == [404] * len(probes)
    codes = {p.json()["code"] for p in probes}
    assert codes == {"score_not_found", "upload_not_found"}
    assert (await bob.get("/api/v1/scores")).json()["total"] == 0
    assert (await alice.get(f"/api/v1/scores/{score['id']}")).json()["title"] == "Private"


async def test_ids_that_are_not_uuids_are_not_found_like_unknown_ones(alice: User) -> None:
    probes = {
        "score_not_found": [
            await alice.get("/api/v1/scores/abc"),
            await alice.patch("/api/v1/scores/abc", json={"title": "x"}),
            await alice.delete("/api/v1/scores/12345"),
            await alice.post("/api/v1/scores/abc/refresh_info"),
        ],
        "setlist_not_found": [
            await alice.get("/api/v1/setlists/notauuid"),
            await alice.post("/api/v1/setlists/notauuid/items", json={"score_id": str(uuid.uuid4())}),
        ],
    }
    for code, responses in probes.items():
        for response in responses:
            assert (response.status_code, response.json()["code"]) == (404, code), response.request.url
    unknown_route = await alice.get(f"/api/v1/scores/{uuid.uuid4()}/nothing-here")
    assert (unknown_route.status_code, unknown_route.json()["code"]) == (404, "not_found")


async def test_missing_or_bad_tokens_are_401(client: httpx.AsyncClient, alice: User) -> None:
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": alice.token}):
        response = await client.get("/api/v1/auth/me", headers=headers)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
    assert (await client.get("/api/v1/scores")).status_code == 401
    # The token is checked before the body or the parameters are looked at.
    bad_body = await client.post("/api/v1/scores", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (bad_body.status_code, bad_body.json()["code"]) == (401, "not_authenticated")
    bad_query = await client.get("/api/v1/scores", params={"limit": "many"})
    assert bad_query.status_code == 401


async def test_register_refuses_duplicates_and_bad_input(client: httpx.AsyncClient, alice: User) -> None:
    duplicate = await client.post(
        "/api/v1/auth/register", json={"email": alice.email.upper(), "password": "another password"}
    )
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "email_taken")
    for body in ({"email": "not-an-email", "password": "long enough"}, {"email": "x@y.io", "password": "short"}):
        response = await client.post("/api/v1/auth/register", json=body)
        assert (response.status_code, response.json()["code"]) == (400, "validation_error")


# --- scores, lists and downloads -----------------------------------------------------------------


async def test_list_filters_orders_and_paginates(alice: User) -> None:
    for title, composer, tags in [
        ("Bolero", "Ravel", ["orchestra"]),
        ("Air", "Bach", ["strings", "baroque"]),
        ("Clair de lune", "Debussy", ["piano"]),
    ]:
        await alice.create_score(ODE, title=title, composer=composer, tags=tags)
    titles = [s["title"] for s in (await alice.get("/api/v1/scores", params={"ordering": "title"})).json()["items"]]
    assert titles == ["Air", "Bolero", "Clair de lune"]
    found = (await alice.get("/api/v1/scores", params={"q": "LUNE"})).json()
    assert [s["title"] for s in found["items"]] == ["Clair de lune"]
    by_tag = (await alice.get("/api/v1/scores", params={"tag": "baroque"})).json()
    assert [s["title"] for s in by_tag["items"]] == ["Air"]
    page = (await alice.get("/api/v1/scores/", params={"limit": 2, "offset": 1, "ordering": "-title"})).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 1)
    assert [s["title"] for s in page["items"]] == ["Bolero", "Air"]
    capped = (await alice.get("/api/v1/scores", params={"limit": 1000})).json()
    assert capped["limit"] == 100
    bad = await alice.get("/api/v1/scores", params={"ordering": "size"})
    assert (bad.status_code, bad.json()["code"]) == (400, "validation_error")


async def test_patch_edits_only_what_is_sent(alice: User) -> None:
    score = await alice.create_score(ODE, title="Ode", composer="Beethoven", genre="Classical")
    response = await alice.patch(f"/api/v1/scores/{score['id']}", json={"title": "Ode to Joy", "genre": None})
    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["composer"], body["genre"]) == ("Ode to Joy", "Beethoven", None)
    empty_title = await alice.patch(f"/api/v1/scores/{score['id']}", json={"title": "   "})
    assert (empty_title.status_code, empty_title.json()["code"]) == (400, "validation_error")


async def test_download_urls_say_when_thumbnails_are_not_ready(alice: User) -> None:
    score = await alice.create_score(ETUDE, title="Etude")
    score = await alice.wait_for_score(score["id"])
    params = {"score_id": score["id"], "file_type": "page_thumbnail"}
    missing_page = await alice.get("/api/v1/files/download-url", params=params)
    assert (missing_page.status_code, missing_page.json()["code"]) == (400, "validation_error")
    out_of_range = await alice.get("/api/v1/files/download-url", params={**params, "page": 9})
    assert (out_of_range.status_code, out_of_range.json()["code"]) == (400, "validation_error")
    not_ready = await alice.get("/api/v1/files/download-url", params={**params, "page": 3})
    assert (not_ready.status_code, not_ready.json()["code"]) == (409, "not_ready")

    regenerate = await alice.post(f"/api/v1/scores/{score['id']}/regenerate_thumbnail", json={"page": 99})
    assert (regenerate.status_code, regenerate.json()["code"]) == (400, "validation_error")
    accepted = await alice.post(f"/api/v1/scores/{score['id']}/regenerate_thumbnail")
    assert accepted.status_code == 202
    assert str(uuid.UUID(accepted.json()["task_id"])) == accepted.json()["task_id"]
    refresh = await alice.post(f"/api/v1/scores/{score['id']}/refresh_info")
    assert refresh.status_code == 202
    unknown = await alice.get("/api/v1/files/download-url", params={"score_id": "00000000-0000-0000-0000-000000000000"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "score_not_found")


async def test_a_cover_chosen_right_after_upload_is_not_replaced_by_page_1(alice: User) -> None:
    score = await alice.create_score(samples.mixed_sizes(), title="Mixed")
    chosen = await alice.post(f"/api/v1/scores/{score['id']}/regenerate_thumbnail", json={"page": 2})
    assert chosen.status_code == 202
    # Ready means the first processing has stored its cover, if it made one: from then on the cover only changes
    # to the chosen page, and must end as that page (Letter landscape: 300x232), never page 1 (A4: 283x400).
    await alice.wait_for_score(score["id"], thumbnail_ready=True)
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        cover = await alice.download(score["id"], "thumbnail")
        with Image.open(io.BytesIO(cover.content)) as image:
            if image.size == (300, 232):
                break
        assert asyncio.get_running_loop().time() < deadline, f"the cover is still {image.size}"
        await asyncio.sleep(0.1)


async def test_dashboard_counts_the_library(alice: User) -> None:
    score = await alice.create_score(ETUDE, title="Etude")
    await alice.wait_for_score(score["id"])
    setlist = await alice.post("/api/v1/setlists", json={"name": "Friday gig"})
    assert setlist.status_code == 201
    body = (await alice.get("/api/v1/dashboard")).json()
    assert (body["score_count"], body["setlist_count"], body["total_pages"]) == (1, 1, 8)
    assert body["processing"] == {"pending": 0, "processing": 0, "failed": 0}
    assert [s["id"] for s in body["recent_scores"]] == [score["id"]]
    assert body["quota"]["used_bytes"] == len(ETUDE)


# --- malformed requests --------------------------------------------------------------------------

BAD_BODIES = [
    ("/api/v1/auth/register", b"{not json"),
    ("/api/v1/auth/register", b'{"email": 5, "password": []}'),
    ("/api/v1/auth/login", b"{}"),
    ("/api/v1/files/upload-url", b'{"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": "big"}'),
    ("/api/v1/files/upload-url", b'{"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": 0}'),
    (
        "/api/v1/files/upload-url",
        b'{"filename": "' + b"a" * 5000 + b'.pdf", "content_type": "application/pdf", "size_bytes": 10}',
    ),
    ("/api/v1/files/upload-confirm", b'{"upload_id": "not-a-uuid"}'),
    ("/api/v1/files/upload-confirm", b"[]"),
    ("/api/v1/scores", b'{"upload_id": "00000000-0000-0000-0000-000000000000"}'),
    ("/api/v1/scores", b'{"upload_id": "00000000-0000-0000-0000-000000000000", "title": "' + b"t" * 10_000 + b'"}'),
    ("/api/v1/setlists", b'{"name": ""}'),
    # A decoder that recursed into this would run out of stack.
    ("/api/v1/auth/login", b"[" * 2000 + b"]" * 2000),
    ("/api/v1/setlists", b'{"name": "deep", "description": ' + b"[" * 2000 + b"]" * 2000 + b"}"),
]


@pytest.mark.parametrize(("path", "body"), BAD_BODIES, ids=[f"{p}-{i}" for i, (p, _) in enumerate(BAD_BODIES)])
async def test_malformed_bodies_are_400_validation_errors(alice: User, path: str, body: bytes) -> None:
    response = await alice.client.post(
        path, content=body, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["code"] == "validation_error"
    assert error["status_code"] == 400
    assert error["detail"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", "a JSON body is required"),
        (b"null", "Expected `object`, got `null`"),
        (b"[]", "Expected `object`, got `array`"),
        (b"{}", "Object missing required field `name`"),
    ],
)
async def test_a_missing_or_misshapen_body_is_described_without_internal_names(
    alice: User, body: bytes, detail: str
) -> None:
    response = await alice.client.post(
        "/api/v1/setlists", content=body, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert response.json()["detail"] == detail
    assert response.json()["errors"] == [{"message": detail, "source": "body"}]


@pytest.mark.parametrize(
    ("filename", "content_type", "size", "status", "code"),
    [
        ("score.txt", "application/pdf", 10, 400, "invalid_mime_type"),
        ("score.pdf", "image/png", 10, 400, "invalid_mime_type"),
        ("score.pdf", "application/pdf", 104857601, 413, "file_too_large"),
        ("score.pdf", "application/pdf", -1, 400, "validation_error"),
    ],
)
async def test_upload_requests_are_checked(
    alice: User, filename: str, content_type: str, size: int, status: int, code: str
) -> None:
    response = await alice.post(
        "/api/v1/files/upload-url", json={"filename": filename, "content_type": content_type, "size_bytes": size}
    )
    assert (response.status_code, response.json()["code"]) == (status, code)


async def test_path_tricks_in_filenames_stay_labels(alice: User, server: Server) -> None:
    ticket = await alice.upload(ODE, "../../../etc/passwd.pdf")
    confirmed = await alice.post("/api/v1/files/upload-confirm", json={"upload_id": ticket["upload_id"]})
    assert confirmed.json()["filename"] == "passwd.pdf"
    assert ticket["s3_key"].endswith(f"/scores/{ticket['upload_id']}/original.pdf")
    assert all(server.data_dir / "objects" in path.parents for path in stored_files(server))


async def test_unknown_routes_ids_and_methods_answer_in_the_error_format(alice: User) -> None:
    cases = [
        (await alice.get("/api/v1/nothing-here"), 404),
        (await alice.get("/api/v1/scores/not-a-uuid"), 404),
        (await alice.get("/api/v1/scores/00000000-0000-0000-0000-000000000000"), 404),
        (await alice.put("/api/v1/scores"), 405),
        (await alice.get("/api/v1/scores", params={"limit": "many"}), 400),
        (await alice.get("/api/v1/scores", params={"offset": -1}), 400),
        (await alice.get("/api/v1/files/download-url", params={"score_id": "x"}), 400),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        assert response.json()["status_code"] == status
        assert response.json()["code"]


async def test_an_idle_connection_stays_open_longer_than_client_pools_keep_theirs(server: Server) -> None:
    """httpx keeps an idle connection 5 s: were the server to close it first, reusing it could fail a request."""
    host, port = urlsplit(server.base_url).hostname, urlsplit(server.base_url).port
    reader, writer = await asyncio.open_connection(host, port)

    async def health() -> bytes:
        writer.write(f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = next(int(line[15:]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:"))
        await reader.readexactly(length)
        return head

    try:
        assert (await health()).startswith(b"HTTP/1.1 200")
        await asyncio.sleep(6)
        assert (await health()).startswith(b"HTTP/1.1 200")
    finally:
        writer.close()


async def test_health_readiness_and_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert set(ready.json()["checks"].values()) == {"ok"}
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/api/v1/files/upload-url" in schema["paths"]
    assert "BearerAuth" in schema["components"]["securitySchemes"]
    components = schema["components"]["schemas"]
    assert "token_type" in components["TokenBody"]["required"]
    assert components["UploadUrlRequest"]["properties"]["size_bytes"]["minimum"] == 1
    assert (await client.get("/schema")).status_code == 200


async def test_health_and_the_openapi_document_also_answer_under_the_base_path(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/health")).json() == {"status": "ok"}
    assert (await client.get("/api/v1/health/ready/")).status_code == 200
    assert (await client.get("/api/v1/schema/openapi.json")).json() == (await client.get("/schema/openapi.json")).json()
    docs = await client.get("/api/v1/schema", follow_redirects=True)
    assert docs.status_code == 200 and docs.url.path == "/schema"


# --- expiry (its own server, with short lifetimes) -----------------------------------------------


@pytest.fixture(scope="module")
def short_lived_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(
        tmp_path_factory.mktemp("expiry-server"),
        reservation_ttl_seconds=2,
        presign_expiry_seconds=1,
        maintenance_interval_seconds=0.5,
    ) as running:
        yield running


async def test_stale_reservations_expire_and_give_quota_back(short_lived_server: Server) -> None:
    async with httpx.AsyncClient(base_url=short_lived_server.base_url, timeout=30) as http:
        user = await register(http)
        ticket = await user.upload(ODE)
        assert (await user.quota())["reserved_bytes"] == len(ODE)
        await asyncio.sleep(2.0)
        expired_url = await user.send_file(ticket, ODE)
        assert expired_url.status_code == 403
        for _ in range(60):
            if (await user.quota())["reserved_bytes"] == 0:
                break
            await asyncio.sleep(0.1)
        assert (await user.quota())["reserved_bytes"] == 0
        object_path = short_lived_server.data_dir / "objects" / ticket["s3_key"]
        for _ in range(60):
            if not object_path.exists():
                break
            await asyncio.sleep(0.1)
        assert not object_path.exists()
        late = await user.post("/api/v1/files/upload-confirm", json={"upload_id": ticket["upload_id"]})
        assert (late.status_code, late.json()["code"]) == (404, "upload_not_found")


async def test_failed_logins_are_limited_but_successes_are_not(tmp_path: Path) -> None:
    with serve(tmp_path, login_failure_limit="3/15min") as strict:
        async with httpx.AsyncClient(base_url=strict.base_url, timeout=30) as client:
            await _failed_logins_are_limited(client)


async def _failed_logins_are_limited(client: httpx.AsyncClient) -> None:
    user = await register(client)
    for _ in range(5):
        ok = await client.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
        assert ok.status_code == 200
    for _ in range(3):
        wrong = await client.post("/api/v1/auth/login", json={"email": user.email, "password": "wrong password"})
        assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")
    limited = await client.post("/api/v1/auth/login", json={"email": user.email, "password": user.password})
    assert (limited.status_code, limited.json()["code"]) == (429, "too_many_requests")
    assert int(limited.headers["retry-after"]) > 0


async def test_a_stranger_failing_from_another_address_cannot_lock_the_owner_out(tmp_path: Path) -> None:
    # Behind a trusted proxy, X-Forwarded-For names the client: two clients at two addresses.
    with serve(tmp_path, login_failure_limit="3/15min", trusted_proxies="127.0.0.1") as proxied:
        async with httpx.AsyncClient(base_url=proxied.base_url, timeout=30) as client:
            user = await register(client)
            stranger, owner = {"X-Forwarded-For": "198.51.100.7"}, {"X-Forwarded-For": "203.0.113.5"}
            wrong = {"email": user.email, "password": "wrong password"}
            right = {"email": user.email, "password": user.password}
            for _ in range(3):
                assert (await client.post("/api/v1/auth/login", json=wrong, headers=stranger)).status_code == 401
            refused = await client.post("/api/v1/auth/login", json=right, headers=stranger)
            assert (refused.status_code, refused.json()["code"]) == (429, "too_many_requests")
            welcomed = await client.post("/api/v1/auth/login", json=right, headers=owner)
            assert welcomed.status_code == 200, welcomed.text


@asynccontextmanager
async def _musician_with_short_urls(tmp_path: Path, url_seconds: int) -> AsyncIterator[tuple[Server, User]]:
    """A server whose upload URLs and reservations last `url_seconds`, housekeeping every half second."""
    with serve(
        tmp_path,
        presign_expiry_seconds=url_seconds,
        reservation_ttl_seconds=url_seconds,
        maintenance_interval_seconds=0.5,
    ) as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            yield server, await register(http)


@pytest.mark.parametrize("trigger", ENDINGS)
async def test_an_ended_uploads_url_stores_nothing_and_its_bytes_stay_reserved_until_it_lapsed(
    tmp_path: Path, trigger: str
) -> None:
    async with _musician_with_short_urls(tmp_path, url_seconds=3) as (server, user):
        ticket = await end_upload(user, trigger, ODE)
        assert (await user.quota())["reserved_bytes"] == len(ODE)
        late = await user.send_file(ticket, ODE)  # local storage asks whether the upload is still pending
        assert (late.status_code, late.json()["code"]) == (404, "upload_not_found")
        stored = server.data_dir / "objects" / ticket["s3_key"]
        assert not stored.exists()
        await wait_for_reserved(user, 0, timeout=30)  # the URL lapsed and housekeeping cleared its storage
