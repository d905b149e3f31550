"""The setlist use cases (CreateSetlist ... ReorderSetlistItems): ordering kept contiguous, other users' setlists
and scores are 404."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain.errors import ErrorKind, ScoreNotFound, SetlistItemNotFound, SetlistNotFound, ValidationError
from domain.scores import Score
from domain.setlists import MAX_NOTES_LENGTH, Setlist
from domain.text import UNSET
from domain.users import User
from tests.unit.conftest import World


async def expect_setlist_not_found(call: Awaitable[Any]) -> None:
    with pytest.raises(SetlistNotFound) as error:
        await call
    assert error.value.code == "setlist_not_found"
    assert error.value.kind is ErrorKind.NOT_FOUND


def positions(setlist: Setlist) -> list[tuple[UUID, int]]:
    return [(item.score_id, item.position) for item in setlist.items]


async def filled(world: World, count: int = 3) -> tuple[User, Setlist, list[Score]]:
    user = await world.user()
    scores = [await world.score(user, title=f"Piece {index}") for index in range(count)]
    setlist = await world.setlist(user)
    for score in scores:
        await world.add_setlist_item(user.id, setlist.id, score.id, None, None)
    return user, world.stored_setlist(setlist.id), scores


# --- create, search, get, update, delete ---------------------------------------------------------


async def test_create_cleans_the_name_and_description(world: World) -> None:
    user = await world.user()
    commits = world.uow.commits
    view = await world.create_setlist(user.id, "  Spring recital ", "  In the hall  ")
    setlist = view.setlist
    assert (setlist.name, setlist.description, setlist.items) == ("Spring recital", "In the hall", [])
    assert setlist.user_id == user.id and setlist.created_at == setlist.updated_at == world.clock.now()
    assert view.summaries == {}
    assert world.stored_setlist(setlist.id) == setlist
    assert world.uow.commits == commits + 1


@pytest.mark.parametrize(("name", "description"), [("", None), ("   ", None), ("n" * 201, None), ("ok", "d" * 5001)])
async def test_create_refuses_bad_names_and_descriptions(world: World, name: str, description: str | None) -> None:
    user = await world.user()
    with pytest.raises(ValidationError) as error:
        await world.create_setlist(user.id, name, description)
    assert error.value.code == "validation_error"
    assert world.db.setlists == {}


async def test_a_blank_description_is_none(world: World) -> None:
    user = await world.user()
    view = await world.create_setlist(user.id, "Gig", "   ")
    assert view.setlist.description is None


async def test_search_lists_ones_own_setlists_by_name(world: World) -> None:
    ann, bob = await world.user(), await world.user()
    for name in ("Winter gig", "Autumn gig", "Practice"):
        await world.setlist(ann, name)
    await world.setlist(bob, "Bob's gig")
    page = await world.list_setlists(ann.id, None, 20, 0)
    assert [s.name for s in page.items] == ["Autumn gig", "Practice", "Winter gig"] and page.total == 3
    page = await world.list_setlists(ann.id, "GIG", 1, 1)
    assert [s.name for s in page.items] == ["Winter gig"]
    assert (page.total, page.limit, page.offset) == (2, 1, 1)


async def test_get_returns_items_in_order_with_score_summaries(world: World) -> None:
    user, setlist, scores = await filled(world)
    view = await world.get_setlist(user.id, setlist.id)
    assert positions(view.setlist) == [(scores[0].id, 0), (scores[1].id, 1), (scores[2].id, 2)]
    assert set(view.summaries) == {s.id for s in scores}
    summary = view.summaries[scores[1].id]
    assert (summary.id, summary.title, summary.composer, summary.page_count, summary.thumbnail_ready) == (
        scores[1].id,
        "Piece 1",
        None,
        None,
        False,
    )


async def test_another_users_setlist_is_not_found_everywhere(world: World) -> None:
    user, setlist, _ = await filled(world, 2)
    intruder = await world.user()
    own_score = await world.score(intruder)
    item_id = setlist.items[0].id
    await expect_setlist_not_found(world.get_setlist(intruder.id, setlist.id))
    await expect_setlist_not_found(world.update_setlist(intruder.id, setlist.id, name="Mine"))
    await expect_setlist_not_found(world.delete_setlist(intruder.id, setlist.id))
    await expect_setlist_not_found(world.add_setlist_item(intruder.id, setlist.id, own_score.id, None, None))
    await expect_setlist_not_found(world.update_setlist_item(intruder.id, setlist.id, item_id, 1))
    await expect_setlist_not_found(world.remove_setlist_item(intruder.id, setlist.id, item_id))
    await expect_setlist_not_found(world.reorder_setlist_items(intruder.id, setlist.id, [i.id for i in setlist.items]))
    await expect_setlist_not_found(world.get_setlist(user.id, uuid4()))
    assert world.stored_setlist(setlist.id) == setlist


async def test_update_changes_what_is_given(world: World) -> None:
    user = await world.user()
    setlist = (await world.create_setlist(user.id, "Old", "Keep me")).setlist
    world.clock.advance(30)
    view = await world.update_setlist(user.id, setlist.id, name=" New ")
    assert (view.setlist.name, view.setlist.description) == ("New", "Keep me")
    assert view.setlist.updated_at == world.clock.now()
    view = await world.update_setlist(user.id, setlist.id, description=None)
    assert (view.setlist.name, view.setlist.description) == ("New", None)
    view = await world.update_setlist(user.id, setlist.id, name=UNSET, description="Again")
    assert world.stored_setlist(setlist.id).description == "Again"


async def test_update_refuses_an_empty_name(world: World) -> None:
    user = await world.user()
    setlist = await world.setlist(user, "Keep")
    with pytest.raises(ValidationError):
        await world.update_setlist(user.id, setlist.id, name="  ")
    assert world.stored_setlist(setlist.id).name == "Keep"


async def test_delete_removes_the_setlist_but_not_its_scores(world: World) -> None:
    user, setlist, scores = await filled(world)
    await world.delete_setlist(user.id, setlist.id)
    assert setlist.id not in world.db.setlists
    assert all(s.id in world.db.scores for s in scores)
    await expect_setlist_not_found(world.get_setlist(user.id, setlist.id))


# --- items ---------------------------------------------------------------------------------------


async def test_add_item_appends_and_returns_the_item_with_its_score(world: World) -> None:
    user = await world.user()
    score = await world.processed_score(user, pages=4, title="Ballade")
    setlist = await world.setlist(user)
    commits = world.uow.commits
    item, summary = await world.add_setlist_item(user.id, setlist.id, score.id, None, "Play slowly")
    assert (item.score_id, item.position, item.notes) == (score.id, 0, "Play slowly")
    assert (summary.id, summary.title, summary.page_count, summary.thumbnail_ready) == (score.id, "Ballade", 4, True)
    assert world.uow.commits == commits + 1
    assert world.stored_setlist(setlist.id).items == [item]


async def test_add_item_at_a_position_shifts_the_rest(world: World) -> None:
    user, setlist, scores = await filled(world)
    item, _ = await world.add_setlist_item(user.id, setlist.id, scores[2].id, 1, None)
    after = world.stored_setlist(setlist.id)
    assert positions(after) == [(scores[0].id, 0), (scores[2].id, 1), (scores[1].id, 2), (scores[2].id, 3)]
    assert after.items[1].id == item.id
    far, _ = await world.add_setlist_item(user.id, setlist.id, scores[0].id, 99, None)
    assert far.position == 4


async def test_a_score_may_be_added_twice(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    setlist = await world.setlist(user)
    first, _ = await world.add_setlist_item(user.id, setlist.id, score.id, None, None)
    second, _ = await world.add_setlist_item(user.id, setlist.id, score.id, None, None)
    assert first.id != second.id
    assert positions(world.stored_setlist(setlist.id)) == [(score.id, 0), (score.id, 1)]


async def test_add_item_with_another_users_or_a_missing_score_is_score_not_found(world: World) -> None:
    user = await world.user()
    other = await world.user()
    foreign = await world.score(other)
    setlist = await world.setlist(user)
    for score_id in (foreign.id, uuid4()):
        with pytest.raises(ScoreNotFound) as error:
            await world.add_setlist_item(user.id, setlist.id, score_id, None, None)
        assert error.value.code == "score_not_found"
    assert world.stored_setlist(setlist.id).items == []


@pytest.mark.parametrize(("position", "notes"), [(-1, None), (None, "n" * (MAX_NOTES_LENGTH + 1))])
async def test_add_item_refuses_bad_positions_and_notes(world: World, position: int | None, notes: str | None) -> None:
    user, setlist, scores = await filled(world, 1)
    with pytest.raises(ValidationError) as error:
        await world.add_setlist_item(user.id, setlist.id, scores[0].id, position, notes)
    assert error.value.code == "validation_error"
    assert world.stored_setlist(setlist.id) == setlist


async def test_update_item_moves_and_changes_notes(world: World) -> None:
    user, setlist, scores = await filled(world, 4)
    moving = setlist.items[0]
    item, summary = await world.update_setlist_item(user.id, setlist.id, moving.id, 2, "Encore")
    assert (item.id, item.position, item.notes) == (moving.id, 2, "Encore")
    assert summary.id == scores[0].id
    after = world.stored_setlist(setlist.id)
    assert [s for s, _ in positions(after)] == [scores[1].id, scores[2].id, scores[0].id, scores[3].id]
    assert [p for _, p in positions(after)] == [0, 1, 2, 3]


async def test_update_item_without_changes_keeps_position_and_notes(world: World) -> None:
    user = await world.user()
    score = await world.score(user)
    setlist = await world.setlist(user)
    added, _ = await world.add_setlist_item(user.id, setlist.id, score.id, None, "Keep")
    item, _ = await world.update_setlist_item(user.id, setlist.id, added.id, None)
    assert (item.position, item.notes) == (0, "Keep")
    item, _ = await world.update_setlist_item(user.id, setlist.id, added.id, None, None)
    assert item.notes is None
    assert world.stored_setlist(setlist.id).items[0].notes is None


async def test_update_item_to_the_end_clamps(world: World) -> None:
    user, setlist, _ = await filled(world, 3)
    item, _ = await world.update_setlist_item(user.id, setlist.id, setlist.items[0].id, 50)
    assert item.position == 2
    assert [i.position for i in world.stored_setlist(setlist.id).items] == [0, 1, 2]


async def test_unknown_items_are_item_not_found(world: World) -> None:
    user, setlist, _ = await filled(world, 2)
    for call in (
        world.update_setlist_item(user.id, setlist.id, uuid4(), 0),
        world.remove_setlist_item(user.id, setlist.id, uuid4()),
    ):
        with pytest.raises(SetlistItemNotFound) as error:
            await call
        assert error.value.code == "setlist_item_not_found"
        assert error.value.kind is ErrorKind.NOT_FOUND
    assert world.stored_setlist(setlist.id) == setlist


async def test_an_item_of_another_setlist_is_not_found(world: World) -> None:
    user, setlist, _ = await filled(world, 2)
    other = await world.setlist(user, "Other")
    with pytest.raises(SetlistItemNotFound):
        await world.remove_setlist_item(user.id, other.id, setlist.items[0].id)
    assert world.stored_setlist(setlist.id) == setlist


async def test_remove_item_closes_the_gap(world: World) -> None:
    user, setlist, scores = await filled(world, 4)
    world.clock.advance(10)
    await world.remove_setlist_item(user.id, setlist.id, setlist.items[1].id)
    after = world.stored_setlist(setlist.id)
    assert positions(after) == [(scores[0].id, 0), (scores[2].id, 1), (scores[3].id, 2)]
    assert after.updated_at == world.clock.now()


async def test_reorder_puts_items_in_the_given_order(world: World) -> None:
    user, setlist, scores = await filled(world, 3)
    order = [setlist.items[2].id, setlist.items[0].id, setlist.items[1].id]
    view = await world.reorder_setlist_items(user.id, setlist.id, order)
    assert [i.id for i in view.setlist.items] == order
    assert positions(world.stored_setlist(setlist.id)) == [(scores[2].id, 0), (scores[0].id, 1), (scores[1].id, 2)]
    assert set(view.summaries) == {s.id for s in scores}


@pytest.mark.parametrize("pick", [[0, 1], [0, 1, 1], [0, 1, 2, 2], [0, 1, 2, -1]])
async def test_reorder_refuses_anything_but_a_permutation(world: World, pick: list[int]) -> None:
    user, setlist, _ = await filled(world, 3)
    order = [setlist.items[i].id if i >= 0 else uuid4() for i in pick]
    with pytest.raises(ValidationError) as error:
        await world.reorder_setlist_items(user.id, setlist.id, order)
    assert error.value.code == "validation_error"
    assert world.stored_setlist(setlist.id) == setlist


async def test_every_edit_locks_the_setlist(world: World) -> None:
    user, setlist, scores = await filled(world, 2)
    world.uow.setlists.locked.clear()
    await world.update_setlist(user.id, setlist.id, name="Locked")
    await world.add_setlist_item(user.id, setlist.id, scores[0].id, None, None)
    await world.update_setlist_item(user.id, setlist.id, setlist.items[0].id, 1)
    await world.reorder_setlist_items(user.id, setlist.id, [i.id for i in world.stored_setlist(setlist.id).items])
    await world.remove_setlist_item(user.id, setlist.id, setlist.items[0].id)
    await world.delete_setlist(user.id, setlist.id)
    assert world.uow.setlists.locked == [setlist.id] * 6
