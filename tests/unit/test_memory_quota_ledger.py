"""InMemoryQuotaLedger: the QuotaLedger contract (reused for Redis), expiry on a hand-moved clock, and a model."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar
from uuid import UUID, uuid4

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from adapters.memory import InMemoryQuotaLedger
from application.ports import LedgerEntry, QuotaLedger

T = TypeVar("T")
HOUR = 3600


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class QuotaLedgerContract:
    """Behaviour every QuotaLedger shares; subclasses provide the `ledger` fixture."""

    async def test_reserve_grants_up_to_the_limit_and_no_further(self, ledger: QuotaLedger) -> None:
        user = uuid4()
        assert await ledger.reserve(user, uuid4(), 60, 100, HOUR)
        assert await ledger.reserve(user, uuid4(), 40, 100, HOUR)
        assert not await ledger.reserve(user, uuid4(), 1, 100, HOUR)
        assert await ledger.usage(user) == (0, 100)

    async def test_refused_reservation_takes_nothing(self, ledger: QuotaLedger) -> None:
        user = uuid4()
        assert not await ledger.reserve(user, uuid4(), 101, 100, HOUR)
        assert await ledger.usage(user) == (0, 0)
        assert await ledger.reserve(user, uuid4(), 100, 100, HOUR)

    async def test_reserving_an_item_twice_counts_it_once(self, ledger: QuotaLedger) -> None:
        user, item = uuid4(), uuid4()
        assert await ledger.reserve(user, item, 70, 100, HOUR)
        assert await ledger.reserve(user, item, 70, 100, HOUR)
        assert await ledger.usage(user) == (0, 70)
        assert await ledger.reserve(user, uuid4(), 30, 100, HOUR)

    async def test_reserving_a_used_item_again_is_granted_without_counting(self, ledger: QuotaLedger) -> None:
        user, item = uuid4(), uuid4()
        assert await ledger.confirm(user, item, 100, 100)
        assert await ledger.reserve(user, item, 100, 100, HOUR)
        assert await ledger.usage(user) == (100, 0)

    async def test_used_bytes_count_against_the_limit(self, ledger: QuotaLedger) -> None:
        user = uuid4()
        assert await ledger.confirm(user, uuid4(), 70, 100)
        assert not await ledger.reserve(user, uuid4(), 31, 100, HOUR)
        assert await ledger.reserve(user, uuid4(), 30, 100, HOUR)
        assert await ledger.usage(user) == (70, 30)

    async def test_confirm_turns_the_reservation_into_used_bytes(self, ledger: QuotaLedger) -> None:
        user, item = uuid4(), uuid4()
        await ledger.reserve(user, item, 50, 100, HOUR)
        assert await ledger.confirm(user, item, 50, 100)
        assert await ledger.usage(user) == (50, 0)

    async def test_confirm_is_idempotent(self, ledger: QuotaLedger) -> None:
        user, item = uuid4(), uuid4()
        await ledger.reserve(user, item, 50, 100, HOUR)
        assert await ledger.confirm(user, item, 50, 100)
        assert await ledger.confirm(user, item, 50, 100)
        assert await ledger.usage(user) == (50, 0)

    async def test_confirm_records_the_confirmed_size(self, ledger: QuotaLedger) -> None:
        user, item = uuid4(), uuid4()
        await ledger.reserve(user, item, 50, 100, HOUR)
        assert await ledger.confirm(user, item, 42, 100)
        assert await ledger.usage(user) == (42, 0)

    async def test_confirm_without_a_reservation_records_used_bytes(self, ledger: QuotaLedger) -> None:
        user = uuid4()
        assert await ledger.confirm(user, uuid4(), 30, 100)
        assert await ledger.usage(user) == (30, 0)

    async def test_release_gives_back_reserved_bytes(self, ledger: QuotaLedger) -> None:
        user, item = uuid4(), uuid4()
        await ledger.reserve(user, item, 100, 100, HOUR)
        await ledger.release(user, item)
        assert await ledger.usage(user) == (0, 0)
        assert await ledger.reserve(user, uuid4(), 100, 100, HOUR)

    async def test_release_gives_back_used_bytes(self, ledger: QuotaLedger) -> None:
        user, item = uuid4(), uuid4()
        assert await ledger.confirm(user, item, 100, 100)
        await ledger.release(user, item)
        assert await ledger.usage(user) == (0, 0)
        assert await ledger.reserve(user, uuid4(), 100, 100, HOUR)

    async def test_release_is_idempotent_and_touches_only_its_item(self, ledger: QuotaLedger) -> None:
        user, kept, released = uuid4(), uuid4(), uuid4()
        assert await ledger.confirm(user, kept, 10, 100)
        await ledger.reserve(user, released, 20, 100, HOUR)
        await ledger.release(user, released)
        await ledger.release(user, released)
        await ledger.release(user, uuid4())
        assert await ledger.usage(user) == (10, 0)

    async def test_users_are_accounted_apart(self, ledger: QuotaLedger) -> None:
        alice, bob, item = uuid4(), uuid4(), uuid4()
        assert await ledger.reserve(alice, item, 100, 100, HOUR)
        assert await ledger.reserve(bob, item, 100, 100, HOUR)
        assert await ledger.confirm(bob, item, 100, 100)
        assert await ledger.usage(alice) == (0, 100)
        assert await ledger.usage(bob) == (100, 0)

    async def test_replace_rebuilds_the_users_state(self, ledger: QuotaLedger) -> None:
        user, old, used_item, live, lapsed = uuid4(), uuid4(), uuid4(), uuid4(), uuid4()
        now = datetime.now(UTC)
        assert await ledger.confirm(user, old, 500, 1000)
        await ledger.replace(
            user,
            limit_bytes=100,
            used=[LedgerEntry(used_item, 30)],
            reserved=[
                LedgerEntry(live, 20, now + timedelta(hours=1)),
                LedgerEntry(lapsed, 40, now - timedelta(hours=1)),
                LedgerEntry(used_item, 30, now + timedelta(hours=1)),  # confirmed meanwhile: counted once, as used
            ],
        )
        assert await ledger.usage(user) == (30, 20)
        assert not await ledger.reserve(user, uuid4(), 51, 100, HOUR)
        assert await ledger.reserve(user, uuid4(), 50, 100, HOUR)
        # The rebuilt items are real items: idempotent reserve, confirm, release.
        assert await ledger.reserve(user, live, 20, 100, HOUR)
        assert await ledger.confirm(user, live, 20, 100)
        await ledger.release(user, used_item)
        assert await ledger.usage(user) == (20, 50)

    async def test_every_change_moves_the_version_and_a_stale_replace_changes_nothing(
        self, ledger: QuotaLedger
    ) -> None:
        user, item = uuid4(), uuid4()
        versions = [await ledger.version(user)]
        assert await ledger.reserve(user, item, 10, 100, HOUR)
        versions.append(await ledger.version(user))
        assert await ledger.confirm(user, item, 10, 100)
        versions.append(await ledger.version(user))
        await ledger.release(user, item)
        versions.append(await ledger.version(user))
        assert len(set(versions)) == 4
        assert not await ledger.reserve(user, uuid4(), 101, 100, HOUR)
        assert await ledger.version(user) == versions[-1]  # a refusal changes nothing

        stale = await ledger.version(user)
        assert await ledger.confirm(user, uuid4(), 40, 100)
        assert not await ledger.replace(user, limit_bytes=100, used=[], reserved=[], expected_version=stale)
        assert await ledger.usage(user) == (40, 0)
        assert await ledger.replace(
            user, limit_bytes=100, used=[], reserved=[], expected_version=await ledger.version(user)
        )
        assert await ledger.usage(user) == (0, 0)

    async def test_in_flight_reservations_are_kept_only_when_already_granted(self, ledger: QuotaLedger) -> None:
        user, granted, not_yet = uuid4(), uuid4(), uuid4()
        expires = datetime.now(UTC) + timedelta(hours=1)
        assert await ledger.reserve(user, granted, 30, 100, HOUR)
        assert await ledger.replace(
            user,
            limit_bytes=100,
            used=[],
            reserved=[],
            in_flight=[LedgerEntry(granted, 30, expires), LedgerEntry(not_yet, 90, expires)],
        )
        assert await ledger.usage(user) == (0, 30)
        # The request still on its way meets the limit as it would have without the rebuild.
        assert not await ledger.reserve(user, not_yet, 90, 100, HOUR)

    async def test_a_rebuild_adds_back_lost_reservations_only_while_they_fit(self, ledger: QuotaLedger) -> None:
        """After the ledger lost its data it granted others; the oldest of the lost come back, the rest wait."""
        user, kept, first, second = uuid4(), uuid4(), uuid4(), uuid4()
        expires = datetime.now(UTC) + timedelta(hours=1)
        assert await ledger.confirm(user, uuid4(), 10, 100)
        assert await ledger.reserve(user, kept, 50, 100, HOUR)
        assert await ledger.replace(
            user,
            used=[],
            reserved=[
                LedgerEntry(first, 30, expires),
                LedgerEntry(kept, 50, expires),
                LedgerEntry(second, 30, expires),
            ],
            limit_bytes=100,
        )
        assert await ledger.usage(user) == (0, 80)
        # The one left out is not held: its confirm meets the limit.
        assert not await ledger.confirm(user, second, 30, 100)
        await ledger.release(user, first)
        assert await ledger.confirm(user, second, 30, 100)

    async def test_a_rebuild_keeps_granted_reservations_first_and_only_while_they_fit(
        self, ledger: QuotaLedger
    ) -> None:
        """Redis lost used bytes the database still has, or the limit was lowered: reservations granted since
        are kept in order while they fit; the one left out meets the limit again at its confirm."""
        user, first, second = uuid4(), uuid4(), uuid4()
        expires = datetime.now(UTC) + timedelta(hours=1)
        for item in (first, second):
            assert await ledger.reserve(user, item, 30, 100, HOUR)
        entries = [LedgerEntry(first, 30, expires), LedgerEntry(second, 30, expires)]
        assert await ledger.replace(user, used=[LedgerEntry(uuid4(), 60)], reserved=entries, limit_bytes=100)
        assert await ledger.usage(user) == (60, 30)
        assert not await ledger.confirm(user, second, 30, 100)
        assert await ledger.confirm(user, first, 30, 100)

    async def test_replace_keeps_used_bytes_of_a_confirm_the_database_has_yet_to_commit(
        self, ledger: QuotaLedger
    ) -> None:
        user, settled, recent = uuid4(), uuid4(), uuid4()
        expires = datetime.now(UTC) + timedelta(hours=1)
        for item in (settled, recent):
            assert await ledger.reserve(user, item, 30, 100, HOUR)
            assert await ledger.confirm(user, item, 30, 100)
        assert await ledger.replace(
            user,
            limit_bytes=100,
            used=[],
            reserved=[LedgerEntry(settled, 30, expires)],
            in_flight=[LedgerEntry(recent, 30, datetime.now(UTC) - timedelta(seconds=1))],
        )
        assert await ledger.usage(user) == (60, 0)
        assert not await ledger.reserve(user, uuid4(), 41, 100, HOUR)

    async def test_replace_with_nothing_clears_the_user(self, ledger: QuotaLedger) -> None:
        user, other = uuid4(), uuid4()
        assert await ledger.confirm(user, uuid4(), 10, 100)
        await ledger.reserve(user, uuid4(), 20, 100, HOUR)
        assert await ledger.confirm(other, uuid4(), 5, 100)
        await ledger.replace(user, limit_bytes=100, used=[], reserved=[])
        assert await ledger.usage(user) == (0, 0)
        assert await ledger.usage(other) == (5, 0)

    async def test_replace_rejects_reservations_without_an_aware_expiry(self, ledger: QuotaLedger) -> None:
        user = uuid4()
        assert await ledger.confirm(user, uuid4(), 10, 100)
        for expires_at in (None, datetime.now() + timedelta(hours=1)):
            with pytest.raises(ValueError, match="expires_at"):
                await ledger.replace(user, limit_bytes=100, used=[], reserved=[LedgerEntry(uuid4(), 1, expires_at)])
        assert await ledger.usage(user) == (10, 0)

    async def test_negative_sizes_are_refused(self, ledger: QuotaLedger) -> None:
        user = uuid4()
        with pytest.raises(ValueError, match="size_bytes"):
            await ledger.reserve(user, uuid4(), -1, 100, HOUR)
        with pytest.raises(ValueError, match="size_bytes"):
            assert await ledger.confirm(user, uuid4(), -1, 100)
        assert await ledger.usage(user) == (0, 0)

    async def test_check_passes(self, ledger: QuotaLedger) -> None:
        await ledger.check()

    async def test_a_held_reservation_is_confirmed_whatever_else_is_reserved(self, ledger: QuotaLedger) -> None:
        user, item = uuid4(), uuid4()
        assert await ledger.reserve(user, item, 60, 100, HOUR)
        assert await ledger.reserve(user, uuid4(), 40, 100, HOUR)
        assert await ledger.confirm(user, item, 60, 100)
        assert await ledger.confirm(user, item, 60, 100)  # again: nothing changes
        assert await ledger.usage(user) == (60, 40)

    async def test_confirming_without_a_reservation_needs_room_under_the_limit(self, ledger: QuotaLedger) -> None:
        user = uuid4()
        assert await ledger.reserve(user, uuid4(), 70, 100, HOUR)
        assert not await ledger.confirm(user, uuid4(), 31, 100)
        assert await ledger.usage(user) == (0, 70)
        assert await ledger.confirm(user, uuid4(), 30, 100)
        assert await ledger.usage(user) == (30, 70)


class TestInMemoryQuotaLedgerContract(QuotaLedgerContract):
    @pytest.fixture
    def ledger(self) -> QuotaLedger:
        return InMemoryQuotaLedger()


# --- expiry on a hand-moved clock ----------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(clock: FakeClock) -> InMemoryQuotaLedger:
    return InMemoryQuotaLedger(clock=clock)


async def test_reservation_lapses_after_its_ttl(ledger: InMemoryQuotaLedger, clock: FakeClock) -> None:
    user = uuid4()
    await ledger.reserve(user, uuid4(), 60, 100, 10)
    clock.advance(9.999)
    assert await ledger.usage(user) == (0, 60)
    clock.advance(0.001)
    assert await ledger.usage(user) == (0, 0)


async def test_lapsed_reservations_make_room_for_new_ones(ledger: InMemoryQuotaLedger, clock: FakeClock) -> None:
    user = uuid4()
    assert await ledger.reserve(user, uuid4(), 60, 100, 10)
    assert await ledger.reserve(user, uuid4(), 40, 100, 20)
    assert not await ledger.reserve(user, uuid4(), 60, 100, 10)
    clock.advance(10)
    assert await ledger.reserve(user, uuid4(), 60, 100, 10)
    assert await ledger.usage(user) == (0, 100)


async def test_a_reservation_that_lapsed_before_its_confirm_cannot_take_room_given_away(
    ledger: InMemoryQuotaLedger, clock: FakeClock
) -> None:
    user, late, other = uuid4(), uuid4(), uuid4()
    assert await ledger.reserve(user, late, 60, 100, 10)
    clock.advance(10)
    assert await ledger.reserve(user, other, 60, 100, 10)
    assert not await ledger.confirm(user, late, 60, 100)
    assert await ledger.usage(user) == (0, 60)


async def test_a_lapsed_item_can_be_reserved_again(ledger: InMemoryQuotaLedger, clock: FakeClock) -> None:
    user, item = uuid4(), uuid4()
    await ledger.reserve(user, item, 60, 100, 10)
    clock.advance(10)
    assert await ledger.usage(user) == (0, 0)
    assert await ledger.reserve(user, item, 60, 100, 10)
    assert await ledger.usage(user) == (0, 60)


async def test_confirm_after_the_reservation_lapsed_still_records_used(
    ledger: InMemoryQuotaLedger, clock: FakeClock
) -> None:
    user, item = uuid4(), uuid4()
    await ledger.reserve(user, item, 60, 100, 10)
    clock.advance(60)
    assert await ledger.confirm(user, item, 60, 100)
    assert await ledger.usage(user) == (60, 0)
    clock.advance(HOUR)
    assert await ledger.usage(user) == (60, 0)


async def test_replaced_reservations_lapse_at_their_expiry(ledger: InMemoryQuotaLedger, clock: FakeClock) -> None:
    user = uuid4()
    expires_at = datetime.fromtimestamp(clock.now + 30, UTC)
    await ledger.replace(user, limit_bytes=100, used=[], reserved=[LedgerEntry(uuid4(), 25, expires_at)])
    clock.advance(29)
    assert await ledger.usage(user) == (0, 25)
    clock.advance(1)
    assert await ledger.usage(user) == (0, 0)


async def test_replace_honours_any_timezone(ledger: InMemoryQuotaLedger, clock: FakeClock) -> None:
    user = uuid4()
    in_tokyo = datetime.fromtimestamp(clock.now + 30, UTC).astimezone(timezone(timedelta(hours=9)))
    await ledger.replace(user, limit_bytes=100, used=[], reserved=[LedgerEntry(uuid4(), 25, in_tokyo)])
    clock.advance(29)
    assert await ledger.usage(user) == (0, 25)
    clock.advance(1)
    assert await ledger.usage(user) == (0, 0)


# --- a model of the ledger, driven by Hypothesis -------------------------------------------------

ITEMS = [UUID(int=n) for n in range(1, 7)]
LIMIT = 100


class LedgerMachine(RuleBasedStateMachine):
    """Random reserve/confirm/release/rebuild/time steps agree with a dict model and never pass the limit, even
    when a reservation lapses before its confirm or a rebuild lists reservations the ledger never granted."""

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()  # not asyncio.Runner: it sets up Ctrl-C handling again every step
        self.clock = FakeClock()
        self.ledger = InMemoryQuotaLedger(clock=self.clock)
        self.user = uuid4()
        self.used: dict[UUID, int] = {}
        self.reserved: dict[UUID, tuple[int, float]] = {}

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def live(self) -> dict[UUID, int]:
        return {item: size for item, (size, expires_at) in self.reserved.items() if expires_at > self.clock.now}

    def model_total(self) -> int:
        return sum(self.used.values()) + sum(self.live().values())

    @rule(item=st.sampled_from(ITEMS), size=st.integers(0, 60), ttl=st.integers(1, 10))
    def reserve(self, item: UUID, size: int, ttl: int) -> None:
        exists = item in self.used or item in self.live()
        expected = exists or self.model_total() + size <= LIMIT
        assert self.run(self.ledger.reserve(self.user, item, size, LIMIT, ttl)) == expected
        if expected and not exists:
            self.reserved[item] = (size, self.clock.now + ttl)

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def confirm_live_reservation(self, data: st.DataObject) -> None:
        live = self.live()
        item = data.draw(st.sampled_from(sorted(live)))
        assert self.run(self.ledger.confirm(self.user, item, live[item], LIMIT))
        del self.reserved[item]
        self.used[item] = live[item]

    @rule(item=st.sampled_from(ITEMS), size=st.integers(0, 60))
    def confirm_any(self, item: UUID, size: int) -> None:
        held = {**self.live(), **self.used}
        size = held.get(item, size)  # an upload keeps its size
        expected = item in held or self.model_total() + size <= LIMIT
        assert self.run(self.ledger.confirm(self.user, item, size, LIMIT)) == expected
        if expected:
            self.reserved.pop(item, None)
            self.used[item] = size

    @rule(item=st.sampled_from(ITEMS))
    def release(self, item: UUID) -> None:
        self.run(self.ledger.release(self.user, item))
        self.reserved.pop(item, None)
        self.used.pop(item, None)

    @rule(data=st.data())
    def rebuild(self, data: st.DataObject) -> None:
        """The database lists some of the live reservations and others the ledger never granted (it lost them)."""
        live = self.live()
        listed = data.draw(
            st.lists(
                st.tuples(st.sampled_from(ITEMS), st.integers(0, 60), st.integers(1, 10)), unique_by=lambda e: e[0]
            )
        )
        expiries = {item: datetime.fromtimestamp(self.clock.now + ttl, UTC) for item, _, ttl in listed}
        reserved = [LedgerEntry(item, live.get(item, size), expiries[item]) for item, size, _ in listed]
        reserved = [entry for entry in reserved if entry.upload_id not in self.used]
        used = [LedgerEntry(item, size) for item, size in self.used.items()]
        self.run(self.ledger.replace(self.user, used, reserved, limit_bytes=LIMIT))
        granted = [entry for entry in reserved if entry.upload_id in live]
        self.reserved = {}
        for entry in granted + [entry for entry in reserved if entry.upload_id not in live]:
            if self.model_total() + entry.size_bytes <= LIMIT:
                self.reserved[entry.upload_id] = (entry.size_bytes, entry.expires_at.timestamp())

    @rule(seconds=st.floats(0, 12, allow_nan=False))
    def advance_time(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def usage_matches_the_model(self) -> None:
        used, reserved = self.run(self.ledger.usage(self.user))
        assert (used, reserved) == (sum(self.used.values()), sum(self.live().values()))
        assert used + reserved <= LIMIT

    def teardown(self) -> None:
        self.loop.close()


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(stateful_step_count=40, deadline=None)
