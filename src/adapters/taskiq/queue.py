"""TaskQueue on a Taskiq broker, sending tasks by name so this adapter needs no task functions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from uuid import UUID, uuid4

from taskiq import AsyncBroker, AsyncTaskiqTask
from taskiq.exceptions import SendTaskError
from taskiq.kicker import AsyncKicker

from adapters.taskiq.names import TaskName
from domain.errors import ServiceUnavailable


class TaskiqQueue:
    def __init__(self, broker: AsyncBroker, ping: Callable[[], Awaitable[Any]] | None = None) -> None:
        self._broker = broker
        self._ping = ping

    async def send(self, name: TaskName, *args: Any) -> str:
        # A UUID in its usual form, as every other id of the API (taskiq's own are bare hex).
        kicker: AsyncKicker[Any, Any] = AsyncKicker(str(name), self._broker, {}).with_task_id(str(uuid4()))
        try:
            task: AsyncTaskiqTask[Any] = await kicker.kiq(*args)
        except SendTaskError as error:
            raise ServiceUnavailable(f"the task queue refused {name}: {error!r}") from error
        return task.task_id

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
