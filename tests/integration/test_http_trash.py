"""The trash over HTTP against `scoremate serve`, on SQLite and on Postgres.

One server per backend for the module (retention 1 day, housekeeping every half second); housekeeping's purge is
driven by moving a score's deletion date back in the database, not by waiting for the retention.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.sqlalchemy.models import ScoreRow
from tests.integration.support import samples
from tests.integration.support.api import User, expect_error, register
from tests.integration.support.backends import serve_on
from tests.integration.support.server import Server

API = "/api/v1"
ODE = samples.ode()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    backend: str = request.param
    data_dir = tmp_path_factory.mktemp(f"trash-{backend}")
    settings: dict[str, object] = {
        "upload_rate_limit": "10000/minute",
        "trash_retention_days": 1,
        "maintenance_interval_seconds": 0.5,
    }
    async with serve_on(backend, data_dir, **settings) as running:
        yield running


# --- helpers -----------------------------------------------------------------------------------


async def ok(response: Any, status: int = 200) -> Any:
    answered: httpx.Response = await response
    assert answered.status_code == status, answered.text
    return answered.json() if answered.content else None


async def scores(user: User, count: int, prefix: str = "Piece") -> list[dict[str, Any]]:
    return [
        await user.create_score(ODE, title=f"{prefix} {n}", composer="Composer", genre="Genre", tags=["t"])
        for n in range(count)
    ]


async def trash_of(user: User, **params: Any) -> dict[str, Any]:
    page: dict[str, Any] = await ok(user.get(f"{API}/trash", params=params))
    return page


async def dashboard(user: User) -> dict[str, Any]:
    body: dict[str, Any] = await ok(user.get(f"{API}/dashboard"))
    return body


async def items_of(user: User, setlist_id: str) -> list[dict[str, Any]]:
    """The setlist's visible items; checks that positions are exactly 0..n-1 and item_count agrees."""
    body = await ok(user.get(f"{API}/setlists/{setlist_id}"))
    items: list[dict[str, Any]] = body["items"]
    assert [item["position"] for item in items] == list(range(len(items))), items
    assert body["item_count"] == len(items)
    listed = await ok(user.get(f"{API}/setlists", params={"limit": 100}))
    assert {s["id"]: s["item_count"] for s in listed["items"]}[setlist_id] == len(items)
    return items


async def add(user: User, setlist_id: str, score_id: str, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = await ok(
        user.post(f"{API}/setlists/{setlist_id}/items", json={"score_id": score_id, **extra}), 201
    )
    return item


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def move_deletion_back(server: Server, score_id: str, days: float) -> None:
    """As if the score had gone to the trash `days` earlier: what housekeeping's clock would see later."""
    url = server.env.get("SCOREMATE_DATABASE_URL") or f"sqlite+aiosqlite:///{server.data_dir / 'scoremate.db'}"
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            row = ScoreRow.id == uuid.UUID(score_id)
            deleted_at = await connection.scalar(select(ScoreRow.deleted_at).where(row))
            assert deleted_at is not None
            await connection.execute(update(ScoreRow).where(row).values(deleted_at=deleted_at - timedelta(days=days)))
    finally:
        await engine.dispose()


async def wait_until(check: Any, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "housekeeping did not get there in time"
        await asyncio.sleep(0.1)


def score_folder(server: Server, user_id: str, score: dict[str, Any]) -> Path:
    return server.data_dir / "objects" / user_id / "scores" / score["upload_id"]


# --- moving to the trash -------------------------------------------------------------------------


async def test_a_deleted_score_leaves_the_library_but_keeps_its_quota(alice: User, bob: User) -> None:
    kept, trashed = await scores(alice, 2)
    kept = await alice.wait_for_score(kept["id"], thumbnail_ready=True)
    trashed = await alice.wait_for_score(trashed["id"], thumbnail_ready=True)
    used = (await alice.quota())["used_bytes"]

    assert (await alice.delete(f"{API}/scores/{trashed['id']}")).status_code == 204

    listed = await ok(alice.get(f"{API}/scores"))
    assert ([s["id"] for s in listed["items"]], listed["total"]) == ([kept["id"]], 1)
    assert (await ok(alice.get(f"{API}/scores", params={"q": "Piece 1"})))["total"] == 0
    assert (await ok(alice.get(f"{API}/scores", params={"tag": "t", "composer": "composer"})))["total"] == 1
    path = f"{API}/scores/{trashed['id']}"
    expect_error(await alice.get(path), 404, "score_not_found")
    expect_error(await alice.patch(path, json={"title": "Back?"}), 404, "score_not_found")
    expect_error(await alice.delete(path), 404, "score_not_found")
    for action in ("refresh_info", "generate_all_thumbnails", "regenerate_thumbnail"):
        expect_error(await alice.post(f"{path}/{action}"), 404, "score_not_found")
    download = await alice.get(f"{API}/files/download-url", params={"score_id": trashed["id"], "file_type": "original"})
    expect_error(download, 404, "score_not_found")

    board = await dashboard(alice)
    assert (board["score_count"], board["trash"]) == (1, {"score_count": 1, "bytes": trashed["size_bytes"]})
    assert [s["id"] for s in board["recent_scores"]] == [kept["id"]]
    assert board["total_pages"] == kept["page_count"]
    assert (await alice.quota())["used_bytes"] == used  # its bytes still count until deleted for good

    trash = await trash_of(alice)
    assert (trash["total"], trash["limit"], trash["offset"]) == (1, 20, 0)
    (entry,) = trash["items"]
    assert {key: entry[key] for key in trashed if key != "updated_at"} == {
        key: value for key, value in trashed.items() if key != "updated_at"
    }
    assert moment(entry["purge_at"]) - moment(entry["deleted_at"]) == timedelta(days=1)
    assert (await trash_of(bob))["total"] == 0
    assert (await dashboard(bob))["trash"] == {"score_count": 0, "bytes": 0}


async def test_the_trash_is_paged_most_recently_deleted_first(alice: User) -> None:
    first, second, third = await scores(alice, 3)
    for score in (second, third, first):
        assert (await alice.delete(f"{API}/scores/{score['id']}")).status_code == 204

    trash = await trash_of(alice)
    assert [s["id"] for s in trash["items"]] == [first["id"], third["id"], second["id"]]
    page = await trash_of(alice, limit=1, offset=1)
    assert ([s["id"] for s in page["items"]], page["total"]) == ([third["id"]], 3)
    past_the_end = await trash_of(alice, offset=10)
    assert (past_the_end["items"], past_the_end["total"]) == ([], 3)
    expect_error(await alice.get(f"{API}/trash", params={"limit": 0}), 400, "validation_error")
    expect_error(await alice.get(f"{API}/trash", params={"offset": -1}), 400, "validation_error")
    assert (await alice.client.get(f"{API}/trash")).status_code == 401


# --- restoring -----------------------------------------------------------------------------------


async def test_restoring_puts_the_score_back_everywhere(alice: User, bob: User) -> None:
    (score,) = await scores(alice, 1)
    assert (await alice.delete(f"{API}/scores/{score['id']}")).status_code == 204
    restore = f"{API}/trash/{score['id']}/restore"
    expect_error(await bob.post(restore), 404, "score_not_found")

    restored = await ok(alice.post(restore))
    assert (restored["id"], restored["title"]) == (score["id"], score["title"])
    assert (await ok(alice.get(f"{API}/scores/{score['id']}")))["id"] == score["id"]
    assert (await ok(alice.get(f"{API}/scores")))["total"] == 1
    assert (await dashboard(alice))["trash"] == {"score_count": 0, "bytes": 0}
    assert (await trash_of(alice))["total"] == 0

    expect_error(await alice.post(restore), 404, "score_not_found")  # not in the trash any more
    expect_error(await alice.post(f"{API}/trash/{uuid.uuid4()}/restore"), 404, "score_not_found")
    expect_error(await alice.delete(f"{API}/trash/{score['id']}"), 404, "score_not_found")


async def test_a_trashed_scores_setlist_items_are_hidden_and_come_back_in_place(alice: User) -> None:
    a, doomed, b, c, x = await scores(alice, 5)
    setlist = await ok(alice.post(f"{API}/setlists", json={"name": "Recital"}), 201)
    sid = setlist["id"]
    for score in (a, doomed, b, doomed, c):
        await add(alice, sid, score["id"], notes=score["title"])
    hidden = [item["id"] for item in await items_of(alice, sid) if item["score_id"] == doomed["id"]]

    assert (await alice.delete(f"{API}/scores/{doomed['id']}")).status_code == 204
    visible = await items_of(alice, sid)
    assert [i["score_id"] for i in visible] == [a["id"], b["id"], c["id"]]
    expect_error(
        await alice.post(f"{API}/setlists/{sid}/items", json={"score_id": doomed["id"]}), 404, "score_not_found"
    )
    hidden_item = f"{API}/setlists/{sid}/items/{hidden[0]}"
    expect_error(await alice.patch(hidden_item, json={"notes": "x"}), 404, "setlist_item_not_found")
    expect_error(await alice.delete(hidden_item), 404, "setlist_item_not_found")

    # The setlist changes meanwhile: an item added, a reorder of the visible items, one removed, one moved.
    added = await add(alice, sid, x["id"], position=1, notes=x["title"])
    assert added["position"] == 1
    by_score = {i["score_id"]: i["id"] for i in await items_of(alice, sid)}
    reordered = await ok(
        alice.put(
            f"{API}/setlists/{sid}/items/order",
            json={"item_ids": [by_score[c["id"]], by_score[a["id"]], by_score[x["id"]], by_score[b["id"]]]},
        )
    )
    assert [i["score_id"] for i in reordered["items"]] == [c["id"], a["id"], x["id"], b["id"]]
    assert [i["position"] for i in reordered["items"]] == [0, 1, 2, 3]
    not_a_permutation = {"item_ids": [*by_score.values(), hidden[0]]}
    expect_error(await alice.put(f"{API}/setlists/{sid}/items/order", json=not_a_permutation), 400, "validation_error")
    assert (await alice.delete(f"{API}/setlists/{sid}/items/{by_score[c['id']]}")).status_code == 204
    moved = await ok(alice.patch(f"{API}/setlists/{sid}/items/{by_score[b['id']]}", json={"position": 0}))
    assert moved["position"] == 0
    assert [i["score_id"] for i in await items_of(alice, sid)] == [b["id"], a["id"], x["id"]]

    await ok(alice.post(f"{API}/trash/{doomed['id']}/restore"))

    # Each hidden item is back right after the item it followed (and moved with it).
    back = await items_of(alice, sid)
    assert [i["score_id"] for i in back] == [b["id"], doomed["id"], a["id"], doomed["id"], x["id"]]
    assert [i["id"] for i in back if i["score_id"] == doomed["id"]] == [hidden[1], hidden[0]]
    assert [i["notes"] for i in back] == [b["title"], doomed["title"], a["title"], doomed["title"], x["title"]]


# --- deleting for good ---------------------------------------------------------------------------


async def test_deleting_from_the_trash_frees_quota_files_and_setlist_items(alice: User, server: Server) -> None:
    kept, doomed = await scores(alice, 2)
    doomed = await alice.wait_for_score(doomed["id"], thumbnail_ready=True)
    user_id = (await ok(alice.get(f"{API}/auth/me")))["id"]
    folder = score_folder(server, user_id, doomed)
    assert (folder / "original.pdf").is_file()
    setlist = await ok(alice.post(f"{API}/setlists", json={"name": "Gig"}), 201)
    for score in (doomed, kept, doomed):
        await add(alice, setlist["id"], score["id"])
    assert (await alice.delete(f"{API}/scores/{doomed['id']}")).status_code == 204
    assert (await alice.quota())["used_bytes"] == kept["size_bytes"] + doomed["size_bytes"]
    assert (folder / "original.pdf").is_file()  # files stay while it is in the trash

    expect_error(await alice.delete(f"{API}/trash/{kept['id']}"), 404, "score_not_found")  # not in the trash
    expect_error(await alice.delete(f"{API}/trash/{uuid.uuid4()}"), 404, "score_not_found")
    assert (await alice.delete(f"{API}/trash/{doomed['id']}")).status_code == 204

    assert (await alice.quota())["used_bytes"] == kept["size_bytes"]
    assert (await trash_of(alice))["total"] == 0
    assert (await dashboard(alice))["trash"] == {"score_count": 0, "bytes": 0}
    expect_error(await alice.post(f"{API}/trash/{doomed['id']}/restore"), 404, "score_not_found")
    expect_error(await alice.delete(f"{API}/trash/{doomed['id']}"), 404, "score_not_found")
    assert [i["score_id"] for i in await items_of(alice, setlist["id"])] == [kept["id"]]

    async def files_gone() -> bool:
        return not folder.exists()

    await wait_until(files_gone)


async def test_emptying_the_trash_deletes_every_score_in_it_for_good(alice: User, bob: User) -> None:
    kept, *doomed = await scores(alice, 4)
    (bobs,) = await scores(bob, 1)
    for score in doomed:
        assert (await alice.delete(f"{API}/scores/{score['id']}")).status_code == 204
    assert (await bob.delete(f"{API}/scores/{bobs['id']}")).status_code == 204

    emptied = await alice.delete(f"{API}/trash")
    assert (emptied.status_code, emptied.json()) == (200, {"deleted": 3})
    assert (await trash_of(alice))["total"] == 0
    assert (await alice.quota())["used_bytes"] == kept["size_bytes"]
    assert (await ok(alice.get(f"{API}/scores")))["total"] == 1
    assert (await trash_of(bob))["total"] == 1  # another user's trash is left alone
    assert (await alice.delete(f"{API}/trash/")).json() == {"deleted": 0}


# --- housekeeping ----------------------------------------------------------------------------------


async def test_housekeeping_deletes_for_good_what_stayed_longer_than_the_retention(alice: User, server: Server) -> None:
    kept, old, recent = await scores(alice, 3)
    setlist = await ok(alice.post(f"{API}/setlists", json={"name": "Gig"}), 201)
    await add(alice, setlist["id"], old["id"])
    await add(alice, setlist["id"], kept["id"])
    for score in (old, recent):
        assert (await alice.delete(f"{API}/scores/{score['id']}")).status_code == 204
    await move_deletion_back(server, old["id"], days=1.01)

    async def old_one_purged() -> bool:
        return [s["id"] for s in (await trash_of(alice))["items"]] == [recent["id"]]

    await wait_until(old_one_purged)
    assert (await alice.quota())["used_bytes"] == kept["size_bytes"] + recent["size_bytes"]
    expect_error(await alice.post(f"{API}/trash/{old['id']}/restore"), 404, "score_not_found")
    await ok(alice.post(f"{API}/trash/{recent['id']}/restore"))
    assert [i["score_id"] for i in await items_of(alice, setlist["id"])] == [kept["id"]]


# --- no trash ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_with_a_retention_of_0_deleting_is_permanent(tmp_path: Path, backend: str) -> None:
    async with (
        serve_on(backend, tmp_path, trash_retention_days=0) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=60) as http,
    ):
        user = await register(http)
        kept, doomed = await scores(user, 2)
        setlist = await ok(user.post(f"{API}/setlists", json={"name": "Gig"}), 201)
        await add(user, setlist["id"], doomed["id"])

        assert (await user.delete(f"{API}/scores/{doomed['id']}")).status_code == 204

        assert (await user.quota())["used_bytes"] == kept["size_bytes"]
        assert (await trash_of(user))["total"] == 0
        assert (await dashboard(user))["trash"] == {"score_count": 0, "bytes": 0}
        expect_error(await user.post(f"{API}/trash/{doomed['id']}/restore"), 404, "score_not_found")
        expect_error(await user.get(f"{API}/scores/{doomed['id']}"), 404, "score_not_found")
        assert await items_of(user, setlist["id"]) == []
