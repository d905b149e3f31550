"""Retries that really wait: exponential backoff with full jitter, at most `max_retries` times.

taskiq's own SmartRetryMiddleware only delays with a schedule source. Here a failed task is sent again at
once, labelled with its attempt number and the time before which it must not run; the worker that receives
it waits until then. With the Redis stream broker the message stays unacknowledged while it waits, so a
worker that dies meanwhile does not lose the retry.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult
from taskiq.kicker import AsyncKicker

logger = logging.getLogger(__name__)

ATTEMPT_LABEL = "attempt"
NOT_BEFORE_LABEL = "not_before"

GiveUpHandler = Callable[[TaskiqMessage, BaseException], Awaitable[None]]


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Delay before retry number `attempt` (1-based): uniform in [ceiling/2, ceiling], ceiling = base * 2^(n-1)."""
    ceiling = min(cap, base * 2 ** (attempt - 1))
    return rng.uniform(ceiling / 2, ceiling)


class BackoffRetryMiddleware(TaskiqMiddleware):
    def __init__(
        self,
        max_retries: int = 3,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        on_give_up: GiveUpHandler | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__()
        self.max_retries = max_retries
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._on_give_up = on_give_up
        self._rng = rng or random.Random()

    async def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        not_before = float(message.labels.get(NOT_BEFORE_LABEL, 0) or 0)
        wait = not_before - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        return message

    async def on_error(self, message: TaskiqMessage, result: TaskiqResult[Any], exception: BaseException) -> None:
        attempt = int(message.labels.get(ATTEMPT_LABEL, 0) or 0) + 1
        if attempt > self.max_retries:
            logger.error("task %s gave up after %d retries: %r", message.task_name, self.max_retries, exception)
            if self._on_give_up is not None:
                await self._on_give_up(message, exception)
            return
        delay = backoff_delay(attempt, self.base_delay, self.max_delay, self._rng)
        logger.warning(
            "task %s failed (%r); retry %d of %d in %.2f s",
            message.task_name,
            exception,
            attempt,
            self.max_retries,
            delay,
        )
        labels = {ATTEMPT_LABEL: attempt, NOT_BEFORE_LABEL: time.time() + delay}
        await AsyncKicker(message.task_name, self.broker, labels).kiq(*message.args, **message.kwargs)
