"""Task metrics as a Taskiq middleware."""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

from adapters.prometheus.metrics import TASK_RETRIES, TASK_SECONDS, TASKS
from adapters.taskiq.retry import ATTEMPT_LABEL

_started: ContextVar[float] = ContextVar("metrics_task_started", default=0.0)


class TaskMetricsMiddleware(TaskiqMiddleware):
    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        _started.set(time.monotonic())
        if int(message.labels.get(ATTEMPT_LABEL, 0) or 0) > 0:
            TASK_RETRIES.labels(message.task_name).inc()
        return message

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        TASK_SECONDS.labels(message.task_name).observe(time.monotonic() - _started.get())
        TASKS.labels(message.task_name, "failed" if result.is_err else "succeeded").inc()
