"""A typed Python client generated from the live OpenAPI document (openapi-python-client) runs the README's upload
flow against `scoremate serve` on the embedded default: what a client team gets from the document alone."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from http import HTTPStatus
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from tests.integration.support import samples
from tests.integration.support.server import Server, serve

PACKAGE = "scoremate_client"
ODE = samples.ode()
# No formatter run over the generated code (it is imported, not read), and a fixed package name.
CONFIG = f"post_hooks: []\npackage_name_override: {PACKAGE}\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("generated-client-server")) as running:
        yield running


def _generator() -> str:
    found = shutil.which("openapi-python-client") or str(Path(sys.executable).with_name("openapi-python-client"))
    if not Path(found).exists():
        pytest.fail("openapi-python-client is missing: install the dev extra (requirements-dev.lock)")
    return found


@pytest.fixture(scope="module")
def generated(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("generated-client")
    document = httpx.get(f"{server.base_url}/schema/openapi.json", timeout=30)
    assert document.status_code == 200, document.text
    (root / "openapi.json").write_bytes(document.content)
    (root / "config.yaml").write_text(CONFIG)
    result = subprocess.run(
        [
            _generator(),
            "generate",
            "--path",
            str(root / "openapi.json"),
            "--output-path",
            str(root / PACKAGE),
            "--meta",
            "none",
            "--config",
            str(root / "config.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # The generator warns about what it could not turn into code (an undescribable schema or response).
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name == PACKAGE or name.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def test_the_readme_upload_flow_with_the_generated_client(server: Server, generated: ModuleType) -> None:
    from scoremate_client.api.auth import login, register
    from scoremate_client.api.files import get_download_url, request_upload_url
    from scoremate_client.api.scores import create_score, get_score
    from scoremate_client.api.setlists import add_setlist_item, create_setlist, get_setlist
    from scoremate_client.models import (
        AddItemRequest,
        CreateScoreRequest,
        CreateSetlistRequest,
        ErrorBody,
        GetDownloadUrlFileType,
        LoginRequest,
        ProcessingStatus,
        RegisterRequest,
        ScoreBody,
        UploadUrlRequest,
    )

    # An undocumented status would raise: every answer below is one the document lists.
    public = generated.Client(base_url=server.base_url, raise_on_unexpected_status=True)
    email, password = f"client-{uuid.uuid4().hex[:12]}@example.com", "correct horse battery"
    account = register.sync(client=public, body=RegisterRequest(email=email, password=password))
    assert account is not None and account.email == email
    token = login.sync(client=public, body=LoginRequest(email=email, password=password))
    assert token is not None and not isinstance(token, ErrorBody), token
    api = generated.AuthenticatedClient(
        base_url=server.base_url, token=token.access_token, raise_on_unexpected_status=True
    )

    # 1. Reserve quota and get the presigned request; 2. send the file exactly as it says.
    ticket = request_upload_url.sync(
        client=api, body=UploadUrlRequest(filename="ode.pdf", content_type="application/pdf", size_bytes=len(ODE))
    )
    assert ticket is not None and not isinstance(ticket, ErrorBody), ticket
    stored = httpx.request(ticket.method, ticket.upload_url, headers=ticket.headers.to_dict(), content=ODE, timeout=60)
    assert stored.status_code in (200, 204), stored.text

    # 3. Creating the score confirms the upload; processing runs in the background.
    created = create_score.sync(
        client=api,
        body=CreateScoreRequest(upload_id=ticket.upload_id, title="Ode to Joy", composer="Beethoven", tags=["choir"]),
    )
    assert isinstance(created, ScoreBody), created
    assert created.upload_id == ticket.upload_id

    # Poll as a client should: with the last ETag, so an unchanged score costs a 304 and no body.
    score, etag, not_modified = created, "", 0
    deadline = time.monotonic() + 60
    while score.processing_status not in (ProcessingStatus.READY, ProcessingStatus.FAILED):
        assert time.monotonic() < deadline, f"not processed in time: {score}"
        answer = get_score.sync_detailed(created.id, client=api, if_none_match=etag)
        if answer.status_code == HTTPStatus.NOT_MODIFIED:
            not_modified += 1
        else:
            assert isinstance(answer.parsed, ScoreBody), answer.content
            score, etag = answer.parsed, answer.headers["etag"]
        time.sleep(0.05)
    assert score.processing_status == ProcessingStatus.READY, score
    assert score.page_count == 1 and score.thumbnail_ready
    unchanged = get_score.sync_detailed(created.id, client=api, if_none_match=etag)
    assert unchanged.status_code == HTTPStatus.NOT_MODIFIED and unchanged.parsed is None

    # The cover and the original, downloaded through their presigned URLs.
    cover = get_download_url.sync(client=api, score_id=score.id, file_type=GetDownloadUrlFileType.THUMBNAIL)
    assert cover is not None and not isinstance(cover, ErrorBody), cover
    jpeg = httpx.get(cover.download_url, timeout=60)
    assert jpeg.status_code == 200 and jpeg.content.startswith(b"\xff\xd8"), jpeg.headers
    original = get_download_url.sync(client=api, score_id=score.id)
    assert original is not None and not isinstance(original, ErrorBody), original
    assert httpx.get(original.download_url, timeout=60).content == ODE

    # A setlist with the score in it.
    setlist = create_setlist.sync(client=api, body=CreateSetlistRequest(name="Spring concert"))
    assert setlist is not None and not isinstance(setlist, ErrorBody), setlist
    item = add_setlist_item.sync(setlist.id, client=api, body=AddItemRequest(score_id=score.id, notes="Opening"))
    assert item is not None and not isinstance(item, ErrorBody), item
    assert item.position == 0 and item.score_id == score.id
    listed = get_setlist.sync(setlist.id, client=api)
    assert listed is not None and not isinstance(listed, ErrorBody), listed
    assert [entry.score_id for entry in listed.items] == [score.id]

    # Errors arrive typed, with the contract's code.
    missing = get_score.sync(uuid.uuid4(), client=api)
    assert isinstance(missing, ErrorBody) and missing.code == "score_not_found"
