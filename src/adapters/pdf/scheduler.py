"""Who gets the next free render process: the most urgent priority first, and within it each owner in turn.

Pure asyncio, no processes, so the order can be tested on its own.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Hashable


class FairScheduler:
    """Hands out `size` slots (0..size-1). A caller that finds none free waits; a released slot goes to the waiting
    call of the lowest `priority` number, and among those of one priority to the owners in turn (round-robin:
    an owner with many waiting calls gets one slot, then every other waiting owner gets one before it gets another).
    Calls of one owner and priority are served in the order they came.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("A scheduler needs at least one slot.")
        self._free: deque[int] = deque(range(size))
        # priority -> owner -> that owner's waiting calls, owners in the order of their turn
        self._waiting: dict[int, OrderedDict[Hashable, deque[asyncio.Future[int]]]] = {}

    @property
    def waiting(self) -> int:
        return sum(len(calls) for owners in self._waiting.values() for calls in owners.values())

    async def acquire(self, owner: Hashable = None, priority: int = 0) -> int:
        """A free slot, once it is this call's turn; release it when done."""
        if self._free and not self._waiting:
            return self._free.popleft()
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        owners = self._waiting.setdefault(priority, OrderedDict())
        owners.setdefault(owner, deque()).append(future)
        self._hand_out()
        try:
            return await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.release(future.result())  # given a slot just as it was cancelled: pass it on
            else:
                self._forget(priority, owner, future)
            raise

    def release(self, slot: int) -> None:
        self._free.append(slot)
        self._hand_out()

    def _hand_out(self) -> None:
        while self._free and self._waiting:
            priority = min(self._waiting)
            owners = self._waiting[priority]
            owner, calls = next(iter(owners.items()))
            future = calls.popleft()
            # This owner has had its turn: to the back of the line, or out of it when it waits for nothing more.
            del owners[owner]
            if calls:
                owners[owner] = calls
            if not owners:
                del self._waiting[priority]
            future.set_result(self._free.popleft())

    def _forget(self, priority: int, owner: Hashable, future: asyncio.Future[int]) -> None:
        owners = self._waiting.get(priority)
        calls = owners.get(owner) if owners is not None else None
        if owners is None or calls is None or future not in calls:
            return
        calls.remove(future)
        if not calls:
            del owners[owner]
        if not owners:
            del self._waiting[priority]
