"""TaskQueue on a Taskiq broker, sending tasks by name so this adapter needs no task functions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID, uuid4

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from taskiq import AsyncBroker, AsyncTaskiqTask
from taskiq.exceptions import SendTaskError
from taskiq.kicker import AsyncKicker

from adapters.taskiq.names import TaskName
from domain.errors import ServiceUnavailable

# A broker that cannot be reached (Redis restarting, say) is asked again for about 4 s before the send fails: a
# score created meanwhile is processed at once instead of waiting for the stuck-score sweep.
SEND_RETRY_DELAYS_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.0)
_UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class TaskiqQueue:
    def __init__(self, broker: AsyncBroker, ping: Callable[[], Awaitable[Any]] | None = None) -> None:
        self._broker = broker
        self._ping = ping

    async def send(self, name: TaskName, *args: Any) -> str:
        # A UUID in its usual form, as every other id of the API (taskiq's own are bare hex).
        kicker: AsyncKicker[Any, Any] = AsyncKicker(str(name), self._broker, {}).with_task_id(str(uuid4()))
        for delay in (*SEND_RETRY_DELAYS_SECONDS, None):
            try:
                task: AsyncTaskiqTask[Any] = await kicker.kiq(*args)
                return task.task_id
            except SendTaskError as error:
                if delay is None or not isinstance(error.__cause__, _UNREACHABLE):
                    raise ServiceUnavailable(f"the task queue refused {name}: {error.__cause__!r}") from error
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def process_score(self, score_id: UUID) -> str:
        return await self.send(TaskName.PROCESS_PDF_INFO, str(score_id))

    async def generate_thumbnail(self, score_id: UUID, page: int) -> str:
        return await self.send(TaskName.GENERATE_THUMBNAIL, str(score_id), page)

    async def generate_all_thumbnails(self, score_id: UUID) -> str:
        return await self.send(TaskName.GENERATE_ALL_PAGE_THUMBNAILS, str(score_id))

    async def delete_files(self, keys: Sequence[str], prefix: str | None = None) -> str:
        return await self.send(TaskName.DELETE_SCORE_FILES, list(keys), prefix)

    async def check(self) -> None:
        if self._ping is not None:
            await self._ping()
