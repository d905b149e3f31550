"""Fixed-window RateLimiter kept in process memory, with an injectable clock."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from application.ports import RateRule

_MIN_SWEEP = 1024


@dataclass
class _Window:
    count: int
    ends_at: float


class InMemoryRateLimiter:
    """One counting window per key, opened by its first action; `clock` returns seconds (monotonic).

    Atomic because nothing between checking and counting awaits.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, _Window] = {}
        self._sweep_at = _MIN_SWEEP

    def __len__(self) -> int:
        """Windows held, including lapsed ones not yet swept."""
        return len(self._windows)

    async def acquire(self, key: str, rule: RateRule) -> int | None:
        now = self._clock()
        window = self._live(key, now)
        if window is None:
            self._sweep(now)
            window = self._windows[key] = _Window(0, now + rule.window_seconds)
        if window.count >= rule.limit:
            return max(1, math.ceil(window.ends_at - now))
        window.count += 1
        return None

    async def release(self, key: str) -> None:
        window = self._live(key, self._clock())
        if window is not None and window.count > 0:
            window.count -= 1

    def _live(self, key: str, now: float) -> _Window | None:
        window = self._windows.get(key)
        if window is not None and window.ends_at <= now:
            del self._windows[key]
            return None
        return window

    def _sweep(self, now: float) -> None:
        # Sweeping only when the dict doubled keeps actions amortised O(1) and the dict within 2x the live windows.
        if len(self._windows) < self._sweep_at:
            return
        self._windows = {key: window for key, window in self._windows.items() if window.ends_at > now}
        self._sweep_at = max(_MIN_SWEEP, 2 * len(self._windows))
