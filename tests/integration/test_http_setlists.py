"""Setlists and the score library over HTTP against `scoremate serve`, on SQLite and on Postgres.

One server per backend for the whole module; every test registers its own users, so tests stay independent.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.integration.support import samples
from tests.integration.support.api import User, expect_error, register
from tests.integration.support.backends import serve_on
from tests.integration.support.server import Server

API = "/api/v1"
ODE = samples.ode()
ENCRYPTED = samples.encrypted()
ANONYMOUS = samples.engraved_score(1, title="")
CONCURRENT_ADDS = 20


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
async def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    backend: str = request.param
    data_dir = tmp_path_factory.mktemp(f"setlists-{backend}")
    settings: dict[str, object] = {"upload_rate_limit": "10000/minute"}
    async with serve_on(backend, data_dir, **settings) as running:
        yield running


# --- helpers -----------------------------------------------------------------------------------


async def new_setlist(user: User, name: str = "Gig", description: str | None = None) -> dict[str, Any]:
    response = await user.post(f"{API}/setlists", json={"name": name, "description": description})
    assert response.status_code == 201, response.text
    setlist: dict[str, Any] = response.json()
    return setlist


async def add(user: User, setlist_id: str, score_id: str, **extra: Any) -> dict[str, Any]:
    response = await user.post(f"{API}/setlists/{setlist_id}/items", json={"score_id": score_id, **extra})
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


async def items_of(user: User, setlist_id: str) -> list[dict[str, Any]]:
    """The setlist's items in order; checks the contract's invariant that positions are exactly 0..n-1."""
    response = await user.get(f"{API}/setlists/{setlist_id}")
    assert response.status_code == 200, response.text
    body = response.json()
    items: list[dict[str, Any]] = body["items"]
    assert [item["position"] for item in items] == list(range(len(items))), items
    assert body["item_count"] == len(items)
    return items


def score_ids(items: Sequence[dict[str, Any]]) -> list[str]:
    return [item["score_id"] for item in items]


def item_ids(items: Sequence[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


async def scores(user: User, count: int, prefix: str = "Piece") -> list[dict[str, Any]]:
    """Scores with every detail given, so background processing fills in nothing that tests compare."""
    return [
        await user.create_score(ODE, title=f"{prefix} {n}", composer="Composer", genre="Genre", tags=["t"])
        for n in range(count)
    ]


# --- setlists: CRUD and listing ------------------------------------------------------------------


async def test_create_get_update_and_delete_a_setlist(alice: User) -> None:
    created = await new_setlist(alice, "  Sunday service  ", "Organ and choir")
    assert created["name"] == "Sunday service"
    assert created["description"] == "Organ and choir"
    assert (created["item_count"], created["items"]) == (0, [])
    assert created["created_at"].endswith(("Z", "+00:00"))
    uuid.UUID(created["id"])

    fetched = await alice.get(f"{API}/setlists/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created

    renamed = await alice.patch(f"{API}/setlists/{created['id']}", json={"name": "Evensong"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["name"], renamed.json()["description"]) == ("Evensong", "Organ and choir")
    assert renamed.json()["updated_at"] >= created["updated_at"]
    cleared = await alice.patch(f"{API}/setlists/{created['id']}", json={"description": None})
    assert (cleared.json()["name"], cleared.json()["description"]) == ("Evensong", None)
    assert (await alice.get(f"{API}/setlists/{created['id']}")).json()["name"] == "Evensong"

    for body in ({"name": ""}, {"name": "   "}, {"name": "x" * 201}, {"name": 5}, {}):
        expect_error(await alice.post(f"{API}/setlists", json=body), 400, "validation_error")
    expect_error(await alice.patch(f"{API}/setlists/{created['id']}", json={"name": " "}), 400, "validation_error")

    assert (await alice.delete(f"{API}/setlists/{created['id']}")).status_code == 204
    expect_error(await alice.get(f"{API}/setlists/{created['id']}"), 404, "setlist_not_found")
    expect_error(await alice.delete(f"{API}/setlists/{created['id']}"), 404, "setlist_not_found")
    expect_error(await alice.patch(f"{API}/setlists/{created['id']}", json={"name": "x"}), 404, "setlist_not_found")


async def test_list_setlists_searches_names_and_paginates(alice: User, bob: User) -> None:
    for name in ("Wedding ceremony", "wedding reception", "Jazz night", "Café Sonntag", "Funeral"):
        await new_setlist(alice, name)
    await new_setlist(bob, "Wedding of Bob")

    everything = await alice.get(f"{API}/setlists", params={"limit": 100})
    assert everything.status_code == 200
    body = everything.json()
    assert (body["total"], body["limit"], body["offset"]) == (5, 100, 0)
    assert all("items" not in setlist for setlist in body["items"])
    names = [setlist["name"] for setlist in body["items"]]
    assert names == ["Café Sonntag", "Funeral", "Jazz night", "Wedding ceremony", "wedding reception"]

    weddings = (await alice.get(f"{API}/setlists", params={"q": "WEDDING"})).json()
    assert weddings["total"] == 2
    assert {s["name"] for s in weddings["items"]} == {"Wedding ceremony", "wedding reception"}
    assert (await alice.get(f"{API}/setlists", params={"q": "CAFÉ"})).json()["total"] == 1
    assert (await alice.get(f"{API}/setlists", params={"q": "cafe"})).json()["total"] == 1
    assert (await alice.get(f"{API}/setlists", params={"q": "%"})).json()["total"] == 0

    seen: list[str] = []
    for offset in range(0, 5, 2):
        page = (await alice.get(f"{API}/setlists", params={"limit": 2, "offset": offset})).json()
        assert (page["total"], page["limit"], page["offset"]) == (5, 2, offset)
        seen += [s["id"] for s in page["items"]]
    assert seen == [s["id"] for s in body["items"]]
    assert len(set(seen)) == 5

    capped = (await alice.get(f"{API}/setlists", params={"limit": 1000})).json()
    assert (capped["limit"], capped["total"]) == (100, 5)
    expect_error(await alice.get(f"{API}/setlists", params={"limit": 0}), 400, "validation_error")
    expect_error(await alice.get(f"{API}/setlists", params={"offset": -1}), 400, "validation_error")


async def test_setlists_are_listed_by_name_ignoring_case_and_accents(alice: User) -> None:
    for name in ("Zelda suite", "Église", "advent", "Beta"):
        await new_setlist(alice, name)
    listed = (await alice.get(f"{API}/setlists")).json()
    assert [s["name"] for s in listed["items"]] == ["advent", "Beta", "Église", "Zelda suite"]
    renamed = await alice.patch(f"{API}/setlists/{listed['items'][0]['id']}", json={"name": "Zwischenspiel"})
    assert renamed.status_code == 200
    relisted = (await alice.get(f"{API}/setlists")).json()
    assert [s["name"] for s in relisted["items"]] == ["Beta", "Église", "Zelda suite", "Zwischenspiel"]


async def test_paths_work_with_and_without_a_trailing_slash(alice: User) -> None:
    (score,) = await scores(alice, 1)
    listed = await alice.get(f"{API}/setlists/")
    assert listed.status_code == 200, listed.text
    created = await alice.post(f"{API}/setlists/", json={"name": "Slashes"})
    assert created.status_code == 201, created.text
    base = f"{API}/setlists/{created.json()['id']}"

    assert (await alice.get(f"{base}/")).status_code == 200
    assert (await alice.patch(f"{base}/", json={"name": "Slashes 2"})).json()["name"] == "Slashes 2"
    first = await alice.post(f"{base}/items/", json={"score_id": score["id"]})
    assert first.status_code == 201, first.text
    second = await alice.post(f"{base}/items", json={"score_id": score["id"]})
    item = f"{base}/items/{first.json()['id']}/"
    moved = await alice.patch(item, json={"position": 1})
    assert (moved.status_code, moved.json()["position"]) == (200, 1)
    order = await alice.put(f"{base}/items/order/", json={"item_ids": [first.json()["id"], second.json()["id"]]})
    assert order.status_code == 200, order.text
    assert item_ids(order.json()["items"]) == [first.json()["id"], second.json()["id"]]
    assert (await alice.delete(item)).status_code == 204
    assert (await alice.delete(f"{base}/")).status_code == 204
    assert (await alice.get(base)).status_code == 404


# --- setlists: items ----------------------------------------------------------------------------


async def test_add_insert_duplicate_move_and_remove_items(alice: User) -> None:
    a, b, c = await scores(alice, 3)
    a = await alice.wait_for_score(a["id"], thumbnail_ready=True)
    setlist = await new_setlist(alice)
    path = f"{API}/setlists/{setlist['id']}"

    first = await add(alice, setlist["id"], a["id"], notes="Start softly")
    assert (first["position"], first["score_id"], first["notes"]) == (0, a["id"], "Start softly")
    assert first["score"] == {
        "id": a["id"],
        "title": a["title"],
        "composer": "Composer",
        "page_count": 1,
        "thumbnail_ready": True,
    }
    assert (await add(alice, setlist["id"], b["id"]))["position"] == 1
    inserted = await add(alice, setlist["id"], c["id"], position=0)
    assert inserted["position"] == 0
    assert score_ids(await items_of(alice, setlist["id"])) == [c["id"], a["id"], b["id"]]

    # A score may appear more than once; a position past the end appends.
    again = await add(alice, setlist["id"], a["id"], position=99)
    assert again["position"] == 3
    middle = await add(alice, setlist["id"], b["id"], position=2)
    items = await items_of(alice, setlist["id"])
    assert score_ids(items) == [c["id"], a["id"], b["id"], b["id"], a["id"]]
    assert items[2]["id"] == middle["id"]
    assert items[1]["notes"] == "Start softly"

    for body in ({"score_id": a["id"], "position": -1}, {"score_id": "not-a-uuid"}, {"position": 0}, {}):
        expect_error(await alice.post(f"{path}/items", json=body), 400, "validation_error")
    expect_error(await alice.post(f"{path}/items", json={"score_id": str(uuid.uuid4())}), 404, "score_not_found")
    assert len(await items_of(alice, setlist["id"])) == 5

    # Move the first item to the end, then back into the middle; notes change without moving.
    moved = await alice.patch(f"{path}/items/{inserted['id']}", json={"position": 4})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["position"], moved.json()["score"]["id"]) == (4, c["id"])
    assert score_ids(await items_of(alice, setlist["id"])) == [a["id"], b["id"], b["id"], a["id"], c["id"]]
    moved = await alice.patch(f"{path}/items/{inserted['id']}", json={"position": 1, "notes": "Key change"})
    assert (moved.json()["position"], moved.json()["notes"]) == (1, "Key change")
    past_end = await alice.patch(f"{path}/items/{first['id']}", json={"position": 1000})
    assert past_end.json()["position"] == 4
    noted = await alice.patch(f"{path}/items/{first['id']}", json={"notes": None})
    assert (noted.json()["position"], noted.json()["notes"]) == (4, None)
    items = await items_of(alice, setlist["id"])
    assert score_ids(items) == [c["id"], b["id"], b["id"], a["id"], a["id"]]
    assert [item["notes"] for item in items] == ["Key change", None, None, None, None]
    expect_error(await alice.patch(f"{path}/items/{first['id']}", json={"position": -2}), 400, "validation_error")

    # Removing closes the gap.
    assert (await alice.delete(f"{path}/items/{middle['id']}")).status_code == 204
    items = await items_of(alice, setlist["id"])
    assert score_ids(items) == [c["id"], b["id"], a["id"], a["id"]]
    assert middle["id"] not in item_ids(items)
    expect_error(await alice.delete(f"{path}/items/{middle['id']}"), 404, "setlist_item_not_found")
    expect_error(await alice.patch(f"{path}/items/{middle['id']}", json={"notes": "x"}), 404, "setlist_item_not_found")
    assert (await alice.get(path)).json()["item_count"] == 4


async def test_item_summaries_follow_the_score(alice: User) -> None:
    score = await alice.create_score(ODE, title="Ode to Joy", composer="Beethoven", genre="Classical", tags=["x"])
    setlist = await new_setlist(alice)
    await add(alice, setlist["id"], score["id"])
    await add(alice, setlist["id"], score["id"])
    score = await alice.wait_for_score(score["id"], thumbnail_ready=True)
    renamed = await alice.patch(f"{API}/scores/{score['id']}", json={"title": "An die Freude"})
    assert renamed.status_code == 200

    items = await items_of(alice, setlist["id"])
    summary = {"id": score["id"], "title": "An die Freude", "composer": "Beethoven", "page_count": 1}
    assert [item["score"] for item in items] == [{**summary, "thumbnail_ready": True}] * 2


async def test_reorder_takes_only_a_permutation_of_all_items(alice: User) -> None:
    a, b = await scores(alice, 2)
    setlist = await new_setlist(alice)
    added = [await add(alice, setlist["id"], score["id"]) for score in (a, b, a, b)]
    ids = item_ids(added)
    path = f"{API}/setlists/{setlist['id']}/items/order"

    wanted = [ids[3], ids[0], ids[2], ids[1]]
    reordered = await alice.put(path, json={"item_ids": wanted})
    assert reordered.status_code == 200, reordered.text
    body = reordered.json()
    assert item_ids(body["items"]) == wanted
    assert [item["position"] for item in body["items"]] == [0, 1, 2, 3]
    assert body["item_count"] == 4
    assert item_ids(await items_of(alice, setlist["id"])) == wanted

    refused = (
        wanted[:3],  # one missing
        [*wanted, ids[0]],  # one twice, on top of all
        [wanted[0], wanted[0], wanted[2], wanted[3]],  # one twice instead of another
        [*wanted[:3], str(uuid.uuid4())],  # a stranger
        [],
    )
    for item_id_list in refused:
        expect_error(await alice.put(path, json={"item_ids": item_id_list}), 400, "validation_error")
    expect_error(await alice.put(path, json={"item_ids": ["nope"]}), 400, "validation_error")
    expect_error(await alice.put(path, json={}), 400, "validation_error")
    assert item_ids(await items_of(alice, setlist["id"])) == wanted

    empty = await new_setlist(alice)
    done = await alice.put(f"{API}/setlists/{empty['id']}/items/order", json={"item_ids": []})
    assert (done.status_code, done.json()["items"]) == (200, [])


async def test_another_users_setlists_and_scores_are_not_found_everywhere(alice: User, bob: User) -> None:
    (mine,) = await scores(alice, 1)
    (theirs,) = await scores(bob, 1)
    own = await new_setlist(alice, "Alice's")
    foreign = await new_setlist(bob, "Bob's")
    foreign_item = await add(bob, foreign["id"], theirs["id"])
    path = f"{API}/setlists/{foreign['id']}"
    item_path = f"{path}/items/{foreign_item['id']}"

    for response in (
        await alice.get(path),
        await alice.patch(path, json={"name": "Mine now"}),
        await alice.delete(path),
        await alice.post(f"{path}/items", json={"score_id": mine["id"]}),
        await alice.patch(item_path, json={"position": 0, "notes": "hijacked"}),
        await alice.delete(item_path),
        await alice.put(f"{path}/items/order", json={"item_ids": [foreign_item["id"]]}),
        await alice.get(f"{API}/setlists/{uuid.uuid4()}"),
    ):
        expect_error(response, 404, "setlist_not_found")
    # Bob's score cannot be added to Alice's setlist, at the end or at a position.
    for extra in ({}, {"position": 0}):
        response = await alice.post(f"{API}/setlists/{own['id']}/items", json={"score_id": theirs["id"], **extra})
        expect_error(response, 404, "score_not_found")
    # Alice's item ids do not work on Bob's setlist, and Bob's items not on Alice's.
    own_item = await add(alice, own["id"], mine["id"])
    expect_error(await bob.delete(f"{path}/items/{own_item['id']}"), 404, "setlist_item_not_found")
    expect_error(
        await alice.delete(f"{API}/setlists/{own['id']}/items/{foreign_item['id']}"), 404, "setlist_item_not_found"
    )

    listed = (await alice.get(f"{API}/setlists", params={"q": "Bob"})).json()
    assert (listed["total"], listed["items"]) == (0, [])
    untouched = await bob.get(path)
    assert untouched.json()["name"] == "Bob's"
    assert [(i["id"], i["notes"]) for i in untouched.json()["items"]] == [(foreign_item["id"], None)]
    assert score_ids(await items_of(alice, own["id"])) == [mine["id"]]


async def test_malformed_ids_are_refused_without_a_server_error(alice: User) -> None:
    setlist = await new_setlist(alice)
    expect_error(await alice.get(f"{API}/setlists/not-a-uuid"), 404, "setlist_not_found")
    expect_error(await alice.delete(f"{API}/setlists/{setlist['id']}/items/not-a-uuid"), 404, "setlist_item_not_found")
    expect_error(
        await alice.post(f"{API}/setlists/{setlist['id']}/items", content=b"{not json"), 400, "validation_error"
    )
    unauthenticated = await alice.client.get(f"{API}/setlists/{setlist['id']}")
    assert unauthenticated.status_code == 401


# --- cascades and the dashboard --------------------------------------------------------------------


async def test_deleting_a_score_removes_its_items_from_every_setlist_and_closes_gaps(alice: User) -> None:
    doomed, kept, other = await scores(alice, 3)
    first = await new_setlist(alice, "First")
    second = await new_setlist(alice, "Second")
    for score in (doomed, kept, doomed, other, doomed):
        await add(alice, first["id"], score["id"])
    for score in (kept, doomed, other):
        await add(alice, second["id"], score["id"], notes=score["title"])

    assert (await alice.delete(f"{API}/scores/{doomed['id']}")).status_code == 204

    assert score_ids(await items_of(alice, first["id"])) == [kept["id"], other["id"]]
    remaining = await items_of(alice, second["id"])
    assert score_ids(remaining) == [kept["id"], other["id"]]
    assert [item["notes"] for item in remaining] == [kept["title"], other["title"]]
    listed = (await alice.get(f"{API}/setlists", params={"limit": 100})).json()["items"]
    assert sorted(s["item_count"] for s in listed) == [2, 2]
    expect_error(
        await alice.post(f"{API}/setlists/{first['id']}/items", json={"score_id": doomed["id"]}), 404, "score_not_found"
    )
    # The setlists still take edits after the cascade.
    added = await add(alice, first["id"], other["id"], position=1)
    assert added["position"] == 1
    assert score_ids(await items_of(alice, first["id"])) == [kept["id"], other["id"], other["id"]]


async def test_deleting_a_setlist_keeps_its_scores(alice: User) -> None:
    a, b = await scores(alice, 2)
    setlist = await new_setlist(alice)
    await add(alice, setlist["id"], a["id"])
    await add(alice, setlist["id"], b["id"])
    assert (await alice.delete(f"{API}/setlists/{setlist['id']}")).status_code == 204
    for score in (a, b):
        assert (await alice.get(f"{API}/scores/{score['id']}")).status_code == 200
    assert (await alice.get(f"{API}/scores")).json()["total"] == 2
    assert (await alice.get(f"{API}/setlists")).json()["total"] == 0


async def test_dashboard_counts_setlists(alice: User, bob: User) -> None:
    async def setlist_count(user: User) -> int:
        response = await user.get(f"{API}/dashboard")
        assert response.status_code == 200, response.text
        count: int = response.json()["setlist_count"]
        return count

    assert await setlist_count(alice) == 0
    created = [await new_setlist(alice, f"Set {n}") for n in range(3)]
    await new_setlist(bob)
    assert await setlist_count(alice) == 3
    assert await setlist_count(bob) == 1
    assert (await alice.delete(f"{API}/setlists/{created[0]['id']}")).status_code == 204
    assert await setlist_count(alice) == 2


# --- concurrency -----------------------------------------------------------------------------------


async def test_concurrent_adds_to_one_setlist_get_every_position_exactly_once(alice: User) -> None:
    pieces = await scores(alice, 4)
    setlist = await new_setlist(alice)
    wanted = [pieces[n % len(pieces)]["id"] for n in range(CONCURRENT_ADDS)]

    responses = await asyncio.gather(
        *(alice.post(f"{API}/setlists/{setlist['id']}/items", json={"score_id": score_id}) for score_id in wanted)
    )

    assert [r.status_code for r in responses] == [201] * CONCURRENT_ADDS, [r.text for r in responses]
    assert sorted(r.json()["position"] for r in responses) == list(range(CONCURRENT_ADDS))
    items = await items_of(alice, setlist["id"])
    assert len(items) == CONCURRENT_ADDS
    assert Counter(score_ids(items)) == Counter(wanted)
    assert set(item_ids(items)) == {r.json()["id"] for r in responses}


async def test_concurrent_adds_inserts_moves_removals_and_reorders_keep_the_items(alice: User) -> None:
    pieces = await scores(alice, 3)
    setlist = await new_setlist(alice)
    path = f"{API}/setlists/{setlist['id']}"
    initial = [await add(alice, setlist["id"], pieces[n % 3]["id"]) for n in range(6)]
    removed, moved = initial[:2], initial[2:]
    rng = random.Random(7)
    added_scores = [pieces[n % 3]["id"] for n in range(10)]
    permutation = item_ids(initial)
    rng.shuffle(permutation)

    requests = [
        *(alice.post(f"{path}/items", json={"score_id": score_id}) for score_id in added_scores[:5]),
        *(alice.post(f"{path}/items", json={"score_id": score_id, "position": 1}) for score_id in added_scores[5:]),
        *(alice.patch(f"{path}/items/{item['id']}", json={"position": rng.randrange(8)}) for item in moved),
        *(alice.delete(f"{path}/items/{item['id']}") for item in removed),
        *(alice.put(f"{path}/items/order", json={"item_ids": permutation}) for _ in range(3)),
    ]
    rng.shuffle(requests)
    responses = await asyncio.gather(*requests)

    by_status = Counter(r.status_code for r in responses)
    # Reorders name the six initial items: they apply before anything changed the set, else they are refused.
    assert by_status[201] == 10, [(r.status_code, r.text[:300]) for r in responses]
    assert by_status[204] == 2
    assert by_status[200] >= len(moved)
    assert set(by_status) <= {200, 201, 204, 400}, [r.text for r in responses if r.status_code >= 300]
    assert all(r.json()["code"] == "validation_error" for r in responses if r.status_code == 400)
    items = await items_of(alice, setlist["id"])
    expected = Counter(score_ids(moved)) + Counter(added_scores)
    assert Counter(score_ids(items)) == expected
    assert not set(item_ids(removed)) & set(item_ids(items))


async def test_deleting_a_score_while_items_are_added_leaves_no_gap(alice: User) -> None:
    doomed, kept = await scores(alice, 2)
    setlist = await new_setlist(alice)
    for score in (doomed, kept, doomed, kept):
        await add(alice, setlist["id"], score["id"])
    path = f"{API}/setlists/{setlist['id']}/items"

    adds = [alice.post(path, json={"score_id": kept["id"], "position": n % 3}) for n in range(8)]
    responses = await asyncio.gather(*adds[:4], alice.delete(f"{API}/scores/{doomed['id']}"), *adds[4:])

    assert [r.status_code for r in responses] == [201] * 4 + [204] + [201] * 4, [r.text for r in responses]
    items = await items_of(alice, setlist["id"])
    assert score_ids(items) == [kept["id"]] * 10


async def test_a_score_deleted_edited_and_added_all_at_once_ends_deleted_once(alice: User) -> None:
    doomed, kept = await scores(alice, 2)
    setlist = await new_setlist(alice)
    await add(alice, setlist["id"], doomed["id"])
    score_path = f"{API}/scores/{doomed['id']}"
    requests = [
        *(alice.delete(score_path) for _ in range(4)),
        *(alice.patch(score_path, json={"title": f"Take {n}"}) for n in range(4)),
        *(alice.post(f"{API}/setlists/{setlist['id']}/items", json={"score_id": doomed["id"]}) for _ in range(4)),
    ]
    random.Random(3).shuffle(requests)

    responses = await asyncio.gather(*requests)

    statuses = Counter(r.status_code for r in responses)
    assert statuses[204] == 1, [(r.status_code, r.text[:200]) for r in responses]
    assert set(statuses) <= {200, 201, 204, 404}, [(r.status_code, r.text[:200]) for r in responses]
    assert all(r.json()["code"] == "score_not_found" for r in responses if r.status_code == 404)
    expect_error(await alice.get(score_path), 404, "score_not_found")
    assert await items_of(alice, setlist["id"]) == []
    assert (await alice.quota())["used_bytes"] == kept["size_bytes"] + doomed["size_bytes"]  # in the trash
    assert (await alice.delete(f"{API}/trash/{doomed['id']}")).status_code == 204
    assert (await alice.quota())["used_bytes"] == kept["size_bytes"]


# --- the score library -------------------------------------------------------------------------


@dataclass(frozen=True)
class Library:
    owner: User
    scores: list[dict[str, Any]]  # in creation order, after processing

    def ids(self, *titles: str) -> set[str]:
        return {s["id"] for s in self.scores if s["title"] in titles}


CATALOGUE: list[dict[str, Any]] = [
    {"title": "Air on the G String", "composer": "Johann Sebastian Bach", "genre": "Baroque", "tags": ["strings"]},
    {
        "title": "Brandenburg Concerto No. 3",
        "composer": "Johann Sebastian Bach",
        "genre": "Baroque",
        "tags": ["orchestra"],
    },
    {"title": "Clair de Lune", "composer": "Claude Debussy", "genre": "Impressionist", "tags": ["piano"]},
    {"title": "Dumky Trio", "composer": "Antonín Dvořák", "genre": "Romantic", "tags": ["piano", "trio"]},
    {"title": "Eine kleine Nachtmusik", "composer": "W. A. Mozart", "genre": "Classical", "tags": ["strings"]},
    {"title": "Fantaisie-Impromptu", "composer": "Frédéric Chopin", "genre": "romantic", "tags": ["piano"]},
    {"title": "Gymnopédie No. 1", "composer": "Erik Satie", "genre": "Impressionist", "tags": ["solo"]},
    {"title": "Humoresque", "composer": "ANTONÍN DVOŘÁK", "genre": "Romantic", "tags": ["violin", "strings"]},
    {"title": "Italian Concerto", "composer": "Johann Sebastian Bach", "genre": "Baroque", "tags": ["harpsichord"]},
    {"title": "50% Off Blues", "composer": "Duke Ellington", "genre": "Jazz", "tags": ["big_band"]},
]
UNREADABLE = {"title": "Kaputt", "composer": None, "genre": None, "tags": []}


@pytest.fixture(scope="module")
async def library(client: httpx.AsyncClient) -> Library:
    owner = await register(client)
    other = await register(client)
    created = [await owner.create_score(ODE, **details) for details in CATALOGUE]
    created.append(await owner.create_score(ENCRYPTED, **UNREADABLE))
    # Another user's library with the same words must never show up.
    for details in CATALOGUE[:3]:
        await other.create_score(ODE, **details)
    finished = [await owner.wait_for_score(score["id"]) for score in created]
    assert [s["processing_status"] for s in finished] == ["ready"] * len(CATALOGUE) + ["failed"]
    assert finished[-1]["composer"] is None
    return Library(owner, finished)


async def search(library: Library, **params: Any) -> dict[str, Any]:
    response = await library.owner.get(f"{API}/scores", params={"limit": 100, **params})
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def found(library: Library, **params: Any) -> set[str]:
    page = await search(library, **params)
    assert page["total"] == len(page["items"])
    return {score["id"] for score in page["items"]}


async def test_text_search_matches_title_and_composer_ignoring_case_and_accents(library: Library) -> None:
    bach = library.ids("Air on the G String", "Brandenburg Concerto No. 3", "Italian Concerto")
    dvorak = library.ids("Dumky Trio", "Humoresque")
    assert await found(library, q="bach") == bach
    assert await found(library, q="SEBASTIAN B") == bach
    assert await found(library, q="concerto") == library.ids("Brandenburg Concerto No. 3", "Italian Concerto")
    assert await found(library, q="lune") == library.ids("Clair de Lune")
    assert await found(library, q="nachtMUSIK") == library.ids("Eine kleine Nachtmusik")
    # Non-ASCII letters fold too: "Dvořák" and "DVOŘÁK" are the same composer.
    # Accents too, as a musician types on a keyboard without them.
    for text in ("Dvořák", "DVOŘÁK", "dvořák", "OŘÁ", "dvorak", "Antonin Dvo"):
        assert await found(library, q=text) == dvorak, text
    assert await found(library, q="GYMNOPÉDIE") == library.ids("Gymnopédie No. 1")
    assert await found(library, q="gymnopedie") == library.ids("Gymnopédie No. 1")
    assert await found(library, q="frédéric") == library.ids("Fantaisie-Impromptu")
    assert await found(library, q="Frederic") == library.ids("Fantaisie-Impromptu")
    # LIKE wildcards are literal characters.
    assert await found(library, q="%") == library.ids("50% Off Blues")
    assert await found(library, q="_") == set()
    assert await found(library, q="Beethoven") == set()
    assert await found(library, q="concerto", composer="johann sebastian bach") == library.ids(
        "Brandenburg Concerto No. 3", "Italian Concerto"
    )
    # An empty q means no text filter.
    assert len(await found(library, q="")) == len(library.scores)


async def test_filters_by_composer_genre_tag_and_status(library: Library) -> None:
    bach = library.ids("Air on the G String", "Brandenburg Concerto No. 3", "Italian Concerto")
    assert await found(library, composer="Johann Sebastian Bach") == bach
    assert await found(library, composer="JOHANN SEBASTIAN BACH") == bach
    assert await found(library, composer="antonín dvořák") == library.ids("Dumky Trio", "Humoresque")
    assert await found(library, composer="Antonin Dvorak") == library.ids("Dumky Trio", "Humoresque")
    assert await found(library, composer="Bach") == set()  # a filter names the composer; q searches
    assert await found(library, genre="romantic") == library.ids("Dumky Trio", "Fantaisie-Impromptu", "Humoresque")
    assert await found(library, genre="IMPRESSIONIST") == library.ids("Clair de Lune", "Gymnopédie No. 1")
    assert await found(library, tag="strings") == library.ids(
        "Air on the G String", "Eine kleine Nachtmusik", "Humoresque"
    )
    assert await found(library, tag="piano") == library.ids("Clair de Lune", "Dumky Trio", "Fantaisie-Impromptu")
    assert await found(library, tag="big_band") == library.ids("50% Off Blues")
    assert await found(library, tag="strin") == set()
    assert await found(library, status="failed") == library.ids("Kaputt")
    assert len(await found(library, status="ready")) == len(CATALOGUE)
    assert await found(library, status="pending") == set()
    assert await found(library, tag="piano", genre="romantic", composer="Frédéric Chopin") == library.ids(
        "Fantaisie-Impromptu"
    )
    for params in ({"status": "done"}, {"ordering": "size"}, {"limit": 0}, {"offset": -1}, {"limit": "many"}):
        expect_error(await library.owner.get(f"{API}/scores", params=params), 400, "validation_error")


def _key(score: dict[str, Any], field: str) -> str:
    return str(score[field]).lower()


@pytest.mark.parametrize("ordering", ["title", "-title", "composer", "-composer", "created_at", "-created_at"])
async def test_orderings_and_stable_pages(library: Library, ordering: str) -> None:
    field = ordering.removeprefix("-")
    descending = ordering.startswith("-")
    everything = (await search(library, ordering=ordering))["items"]
    assert len(everything) == len(library.scores)

    if field == "created_at":
        expected = [s["id"] for s in library.scores]
        assert [s["id"] for s in everything] == (expected[::-1] if descending else expected)
    else:
        present = [s for s in everything if s[field] is not None]
        keys = [_key(s, field) for s in present]
        assert keys == sorted(keys, reverse=descending)
        if field == "composer":  # a score without a composer comes last either way
            assert everything[-1]["title"] == "Kaputt"

    paged: list[str] = []
    for offset in range(0, len(everything), 4):
        page = await search(library, ordering=ordering, limit=4, offset=offset)
        assert (page["total"], page["limit"], page["offset"]) == (len(library.scores), 4, offset)
        paged += [s["id"] for s in page["items"]]
    assert paged == [s["id"] for s in everything]
    assert len(set(paged)) == len(paged)


async def test_titles_and_composers_sort_ignoring_case_and_accents(alice: User) -> None:
    for title, composer in [
        ("zelda", "bach"),
        ("Étude", "Élgar"),
        ("alpha", None),
        ("Beta", "Brahms"),
        ("éclair", "dvořák"),
        ("Ave Maria", "Bach"),
    ]:
        # A PDF without Info, so processing prefills nothing while the test reads the order.
        await alice.create_score(ANONYMOUS, title=title, composer=composer, genre="g", tags=["t"])

    async def ordered(ordering: str, field: str) -> list[str | None]:
        response = await alice.get(f"{API}/scores", params={"ordering": ordering})
        assert response.status_code == 200, response.text
        return [score[field] for score in response.json()["items"]]

    titles = ["alpha", "Ave Maria", "Beta", "éclair", "Étude", "zelda"]
    assert await ordered("title", "title") == titles
    assert await ordered("-title", "title") == titles[::-1]
    composers = await ordered("composer", "composer")
    assert [c and c.lower() for c in composers] == ["bach", "bach", "brahms", "dvořák", "élgar", None]
    descending = await ordered("-composer", "composer")
    assert [c and c.lower() for c in descending] == ["élgar", "dvořák", "brahms", "bach", "bach", None]


async def test_default_ordering_is_newest_first_and_the_limit_is_capped(library: Library) -> None:
    response = await library.owner.get(f"{API}/scores")
    body = response.json()
    assert (body["limit"], body["offset"], body["total"]) == (20, 0, len(library.scores))
    assert [s["id"] for s in body["items"]] == [s["id"] for s in reversed(library.scores)]
    capped = await library.owner.get(f"{API}/scores/", params={"limit": 500})
    assert (capped.status_code, capped.json()["limit"]) == (200, 100)
    beyond = await search(library, offset=50)
    assert (beyond["items"], beyond["total"]) == ([], len(library.scores))
