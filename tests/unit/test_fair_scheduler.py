"""The order in which waiting render calls get a free render process (adapters/pdf/scheduler.py, no processes)."""

from __future__ import annotations

import asyncio

import pytest

from adapters.pdf.scheduler import FairScheduler


async def _queue_calls(
    scheduler: FairScheduler, calls: list[tuple[str, int]], served: list[str] | None = None
) -> tuple[list[str], list[asyncio.Task[int]]]:
    """Start the calls (owner, priority) one after another while every slot is taken; `served` gets their names
    (owner and index) in the order they get a slot."""
    served = [] if served is None else served

    async def call(name: str, owner: str, priority: int) -> int:
        slot = await scheduler.acquire(owner, priority)
        served.append(name)
        return slot

    tasks = []
    for index, (owner, priority) in enumerate(calls):
        tasks.append(asyncio.create_task(call(f"{owner}{index}", owner, priority)))
        await asyncio.sleep(0)
    return served, tasks


async def _drain(scheduler: FairScheduler, slot: int, served: list[str], count: int) -> None:
    """Release the one slot again and again, each time letting the call it goes to take it (and finish at once)."""
    while len(served) < count:
        before = len(served)
        scheduler.release(slot)
        for _ in range(5):
            await asyncio.sleep(0)
        assert len(served) == before + 1


async def test_a_free_slot_is_taken_at_once() -> None:
    scheduler = FairScheduler(2)
    assert {await scheduler.acquire("a"), await scheduler.acquire("a")} == {0, 1}


async def test_owners_take_turns_however_many_calls_one_of_them_queued() -> None:
    scheduler = FairScheduler(1)
    busy = await scheduler.acquire("flood")
    served, _ = await _queue_calls(scheduler, [("a", 0)] * 6 + [("b", 0), ("b", 0), ("c", 0)])
    await _drain(scheduler, busy, served, 9)
    assert served == ["a0", "b6", "c8", "a1", "b7", "a2", "a3", "a4", "a5"]


async def test_a_newcomer_waits_for_at_most_one_call_of_a_flooding_owner() -> None:
    scheduler = FairScheduler(1)
    busy = await scheduler.acquire("a")
    served, _ = await _queue_calls(scheduler, [("a", 0)] * 10)
    scheduler.release(busy)
    for _ in range(5):
        await asyncio.sleep(0)
    assert served == ["a0"]  # a0 now holds the slot
    await _queue_calls(scheduler, [("b", 0)], served)
    assert scheduler.waiting == 10
    for _ in range(2):
        scheduler.release(0)
        for _ in range(5):
            await asyncio.sleep(0)
    assert served == ["a0", "a1", "b0"]


async def test_more_urgent_calls_go_first_then_owners_in_turn() -> None:
    scheduler = FairScheduler(1)
    busy = await scheduler.acquire("x")
    served, _ = await _queue_calls(scheduler, [("a", 1), ("a", 1), ("a", 0), ("b", 1), ("b", 0)])
    await _drain(scheduler, busy, served, 5)
    assert served == ["a2", "b4", "a0", "b3", "a1"]


async def test_a_cancelled_waiting_call_leaves_the_line() -> None:
    scheduler = FairScheduler(1)
    busy = await scheduler.acquire("a")
    served, tasks = await _queue_calls(scheduler, [("a", 0), ("b", 0)])
    tasks[0].cancel()
    await asyncio.sleep(0)
    assert scheduler.waiting == 1
    scheduler.release(busy)
    assert await tasks[1] == busy
    assert served == ["b1"]


async def test_a_call_cancelled_as_it_is_given_a_slot_passes_the_slot_on() -> None:
    scheduler = FairScheduler(1)
    busy = await scheduler.acquire("a")
    _, tasks = await _queue_calls(scheduler, [("a", 0), ("b", 0)])
    scheduler.release(busy)  # the slot is set on a's future, a has not resumed yet
    tasks[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    assert await asyncio.wait_for(tasks[1], 1) == busy
    assert scheduler.waiting == 0


def test_a_scheduler_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="at least one slot"):
        FairScheduler(0)
