"""Merging identical background work: one run per key at a time in this process, the rest folded into it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable


class Coalescer:
    """`run(key, work)` runs `work` unless a run of the same key is under way in this process; then it returns at
    once and that run goes once more when it ends, reading the state afresh. Sixty identical requests that reach
    the worker while one of them runs thus cost two runs, and the last request's wishes are what the last run sees.
    """

    def __init__(self) -> None:
        self._asked_again: dict[Hashable, bool] = {}

    async def run(self, key: Hashable, work: Callable[[], Awaitable[None]]) -> None:
        if key in self._asked_again:
            self._asked_again[key] = True
            return
        self._asked_again[key] = False
        try:
            while True:
                await work()
                if not self._asked_again[key]:
                    return
                self._asked_again[key] = False
        finally:
            del self._asked_again[key]
