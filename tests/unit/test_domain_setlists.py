"""domain.setlists: ordering rules, checked by example and against a plain-list model."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import SetlistItemNotFound, ValidationError
from domain.setlists import MAX_NAME_LENGTH, Setlist, SetlistItem, clean_setlist_name

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_setlist() -> Setlist:
    return Setlist(uuid4(), uuid4(), "Recital", None, NOW, NOW)


def item(score_id: UUID | None = None) -> SetlistItem:
    return SetlistItem(uuid4(), score_id or uuid4(), position=-7)


def filled(count: int) -> tuple[Setlist, list[SetlistItem]]:
    setlist = make_setlist()
    items = [setlist.add(item()) for _ in range(count)]
    return setlist, items


def ids(setlist: Setlist) -> list[UUID]:
    return [i.id for i in setlist.items]


def assert_contiguous(setlist: Setlist) -> None:
    assert [i.position for i in setlist.items] == list(range(len(setlist.items)))


# --- add -----------------------------------------------------------------------------------------


def test_add_appends_without_a_position_and_numbers_from_zero() -> None:
    setlist, items = filled(3)
    assert ids(setlist) == [i.id for i in items]
    assert_contiguous(setlist)


@pytest.mark.parametrize(("position", "index"), [(0, 0), (1, 1), (3, 3), (4, 3), (99, 3)])
def test_add_inserts_at_the_position_clamped_to_the_end(position: int, index: int) -> None:
    setlist, _ = filled(3)
    new = setlist.add(item(), position)
    assert setlist.items.index(new) == index
    assert new.position == index
    assert_contiguous(setlist)


def test_add_refuses_a_negative_position() -> None:
    setlist, items = filled(2)
    with pytest.raises(ValidationError) as error:
        setlist.add(item(), -1)
    assert error.value.code == "validation_error"
    assert ids(setlist) == [i.id for i in items]


def test_a_score_may_appear_more_than_once() -> None:
    setlist = make_setlist()
    score_id = uuid4()
    first, second = setlist.add(item(score_id)), setlist.add(item(score_id))
    assert first.id != second.id
    assert [i.score_id for i in setlist.items] == [score_id, score_id]


# --- move ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "target", "order"),
    [(0, 2, [1, 2, 0, 3]), (3, 0, [3, 0, 1, 2]), (1, 1, [0, 1, 2, 3]), (0, 99, [1, 2, 3, 0]), (2, 3, [0, 1, 3, 2])],
)
def test_move_puts_the_item_at_the_position(source: int, target: int, order: list[int]) -> None:
    setlist, items = filled(4)
    moved = setlist.move(items[source].id, target)
    assert moved is items[source]
    assert ids(setlist) == [items[i].id for i in order]
    assert_contiguous(setlist)


def test_move_of_an_unknown_item_is_item_not_found() -> None:
    setlist, _ = filled(2)
    with pytest.raises(SetlistItemNotFound) as error:
        setlist.move(uuid4(), 0)
    assert error.value.code == "setlist_item_not_found"


def test_a_refused_move_leaves_the_setlist_as_it_was() -> None:
    setlist, items = filled(3)
    with pytest.raises(ValidationError):
        setlist.move(items[1].id, -1)
    assert ids(setlist) == [i.id for i in items]
    assert_contiguous(setlist)


# --- remove --------------------------------------------------------------------------------------


def test_remove_closes_the_gap() -> None:
    setlist, items = filled(4)
    removed = setlist.remove(items[1].id)
    assert removed is items[1]
    assert ids(setlist) == [items[0].id, items[2].id, items[3].id]
    assert_contiguous(setlist)


def test_remove_of_an_unknown_item_is_item_not_found() -> None:
    setlist, items = filled(1)
    with pytest.raises(SetlistItemNotFound):
        setlist.remove(uuid4())
    assert ids(setlist) == [items[0].id]


def test_remove_score_drops_every_item_of_that_score() -> None:
    setlist = make_setlist()
    score, other = uuid4(), uuid4()
    kept = [setlist.add(item(other)), setlist.add(item(score)), setlist.add(item(other)), setlist.add(item(score))]
    removed = setlist.remove_score(score)
    assert [i.id for i in removed] == [kept[1].id, kept[3].id]
    assert ids(setlist) == [kept[0].id, kept[2].id]
    assert_contiguous(setlist)
    assert setlist.remove_score(uuid4()) == []


# --- reorder -------------------------------------------------------------------------------------


def test_reorder_takes_a_permutation() -> None:
    setlist, items = filled(4)
    order = [items[2].id, items[0].id, items[3].id, items[1].id]
    setlist.reorder(order)
    assert ids(setlist) == order
    assert_contiguous(setlist)


def test_reorder_of_an_empty_setlist_with_nothing_is_fine() -> None:
    setlist = make_setlist()
    setlist.reorder([])
    assert setlist.items == []


@pytest.mark.parametrize(
    "build",
    [
        lambda items: [items[0].id, items[1].id],  # one missing
        lambda items: [items[0].id, items[1].id, items[2].id, uuid4()],  # one extra
        lambda items: [items[0].id, items[0].id, items[1].id],  # a duplicate instead of one
        lambda items: [items[0].id, items[1].id, items[2].id, items[2].id],  # a duplicate on top
        lambda items: [],
    ],
)
def test_reorder_refuses_anything_but_a_permutation(build: object) -> None:
    setlist, items = filled(3)
    with pytest.raises(ValidationError) as error:
        setlist.reorder(build(items))  # type: ignore[operator]
    assert error.value.code == "validation_error"
    assert ids(setlist) == [i.id for i in items]
    assert_contiguous(setlist)


def test_item_finds_by_id() -> None:
    setlist, items = filled(2)
    assert setlist.item(items[1].id) is items[1]
    with pytest.raises(SetlistItemNotFound):
        setlist.item(uuid4())


# --- names ---------------------------------------------------------------------------------------


def test_names_are_trimmed_and_limited() -> None:
    assert clean_setlist_name("  Spring recital ") == "Spring recital"
    assert clean_setlist_name("n" * MAX_NAME_LENGTH) == "n" * MAX_NAME_LENGTH
    for bad in ("", "   ", "n" * (MAX_NAME_LENGTH + 1)):
        with pytest.raises(ValidationError):
            clean_setlist_name(bad)


# --- the property: any sequence of edits matches a plain list ------------------------------------

SCORES = [uuid4() for _ in range(3)]

operation = st.one_of(
    st.tuples(st.just("add"), st.sampled_from(SCORES), st.none() | st.integers(0, 12)),
    st.tuples(st.just("move"), st.integers(0, 20), st.integers(0, 12)),
    st.tuples(st.just("remove"), st.integers(0, 20)),
    st.tuples(st.just("remove_score"), st.sampled_from(SCORES)),
    st.tuples(st.just("reorder"), st.randoms(use_true_random=False)),
)


@settings(max_examples=2 * settings().max_examples, deadline=None)  # cheap examples: twice the profile's
@given(st.lists(operation, max_size=40))
def test_random_edits_keep_positions_contiguous_and_items_like_a_list(operations: list[tuple]) -> None:  # type: ignore[type-arg]
    setlist = make_setlist()
    model: list[tuple[UUID, UUID]] = []  # (item id, score id) in order
    for op in operations:
        match op:
            case ("add", score_id, position):
                new = item(score_id)
                setlist.add(new, position)
                at = len(model) if position is None else min(position, len(model))
                model.insert(at, (new.id, score_id))
            case ("move", index, position) if model:
                entry = model[index % len(model)]
                setlist.move(entry[0], position)
                model.remove(entry)
                model.insert(min(position, len(model)), entry)
            case ("remove", index) if model:
                entry = model[index % len(model)]
                setlist.remove(entry[0])
                model.remove(entry)
            case ("remove_score", score_id):
                setlist.remove_score(score_id)
                model = [entry for entry in model if entry[1] != score_id]
            case ("reorder", rng):
                rng.shuffle(model)
                setlist.reorder([entry[0] for entry in model])
        assert_contiguous(setlist)
        assert [(i.id, i.score_id) for i in setlist.items] == model
        assert Counter(i.score_id for i in setlist.items) == Counter(score for _, score in model)


# --- hidden items (their score is in the trash) ----------------------------------------------------


def with_hidden(pattern: str) -> tuple[Setlist, dict[str, SetlistItem]]:
    """A setlist of items named by letters; lower case ones are hidden (e.g. "AbBcC")."""
    setlist = make_setlist()
    named = {}
    for letter in pattern:
        named[letter] = SetlistItem(uuid4(), uuid4(), position=-7, hidden=letter.islower())
        setlist.items.append(named[letter])
    setlist.renumber()
    return setlist, named


def pattern_of(setlist: Setlist, named: dict[str, SetlistItem]) -> str:
    letters = {item.id: letter for letter, item in named.items()}
    return "".join(letters.get(i.id, "?") for i in setlist.items)


def assert_visible_contiguous(setlist: Setlist) -> None:
    visible = setlist.visible_items
    assert [i.position for i in visible] == list(range(len(visible)))


def test_hidden_items_are_not_visible_and_positions_skip_them() -> None:
    setlist, named = with_hidden("aAbBcC")
    assert [i.id for i in setlist.visible_items] == [named[x].id for x in "ABC"]
    assert_visible_contiguous(setlist)
    for letter in "abc":
        with pytest.raises(SetlistItemNotFound):
            setlist.item(named[letter].id)
        with pytest.raises(SetlistItemNotFound):
            setlist.remove(named[letter].id)
        with pytest.raises(SetlistItemNotFound):
            setlist.move(named[letter].id, 0)


@pytest.mark.parametrize(
    ("position", "expected"),
    [(None, "AbBcN"), (0, "NAbBc"), (1, "AbNBc"), (2, "AbBcN"), (99, "AbBcN")],
)
def test_add_goes_before_the_visible_item_at_its_position_leaving_hidden_ones_behind_their_item(
    position: int | None, expected: str
) -> None:
    setlist, named = with_hidden("AbBc")
    named["N"] = setlist.add(SetlistItem(uuid4(), uuid4(), position=-7), position)
    assert pattern_of(setlist, named) == expected
    assert_visible_contiguous(setlist)


@pytest.mark.parametrize(
    ("moved", "position", "expected"),
    [("A", 2, "BcCAb"), ("A", 1, "BcAbC"), ("C", 0, "CAbBc"), ("B", 0, "BcAbC"), ("B", 1, "AbBcC")],
)
def test_move_takes_the_hidden_items_that_follow_along(moved: str, position: int, expected: str) -> None:
    setlist, named = with_hidden("AbBcC")
    assert setlist.move(named[moved].id, position) is named[moved]
    assert pattern_of(setlist, named) == expected
    assert_visible_contiguous(setlist)
    assert named[moved].position == position


def test_reorder_names_the_visible_items_and_moves_hidden_ones_with_the_item_they_follow() -> None:
    setlist, named = with_hidden("zAbBcC")
    with pytest.raises(ValidationError):
        setlist.reorder([named[x].id for x in "CBAb"])  # a hidden item is not the caller's to order
    with pytest.raises(ValidationError):
        setlist.reorder([named[x].id for x in "CB"])
    setlist.reorder([named[x].id for x in "CAB"])
    assert pattern_of(setlist, named) == "zCAbBc"
    assert_visible_contiguous(setlist)


def test_removing_a_visible_item_leaves_its_hidden_followers_after_the_item_before() -> None:
    setlist, named = with_hidden("AbBcC")
    setlist.remove(named["B"].id)
    assert pattern_of(setlist, named) == "AbcC"
    assert_visible_contiguous(setlist)


def test_remove_score_takes_hidden_items_too() -> None:
    setlist, named = with_hidden("AbB")
    gone = named["b"].score_id
    named["B"].score_id = gone
    assert {i.id for i in setlist.remove_score(gone)} == {named["b"].id, named["B"].id}
    assert pattern_of(setlist, named) == "A"


@settings(max_examples=200, deadline=None)
@given(
    hidden=st.lists(st.booleans(), min_size=0, max_size=8),
    operations=st.lists(
        st.tuples(st.sampled_from(["add", "move", "remove", "reorder"]), st.integers(0, 9)), max_size=8
    ),
)
def test_after_any_edits_visible_positions_are_contiguous_and_unhiding_keeps_every_item(
    hidden: list[bool], operations: list[tuple[str, int]]
) -> None:
    setlist = make_setlist()
    setlist.items = [SetlistItem(uuid4(), uuid4(), position=-7, hidden=flag) for flag in hidden]
    setlist.renumber()
    expected = Counter(i.id for i in setlist.items)
    for operation, number in operations:
        visible = setlist.visible_items
        if operation == "add":
            expected[setlist.add(item(), number).id] += 1
        elif visible and operation == "move":
            setlist.move(visible[number % len(visible)].id, number)
        elif visible and operation == "remove":
            del expected[setlist.remove(visible[number % len(visible)].id).id]
        elif operation == "reorder":
            setlist.reorder([i.id for i in reversed(visible)])
        assert_visible_contiguous(setlist)
    assert Counter(i.id for i in setlist.items) == expected
    for each in setlist.items:
        each.hidden = False
    setlist.renumber()
    assert_contiguous(setlist)
