"""Task metrics as a Taskiq middleware: runs by task and outcome, their duration, and the retries sent.

The metric families live in prometheus_client's default registry, next to those of adapters.prometheus.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

from prometheus_client import Counter, Histogram
from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

from adapters.taskiq.retry import ATTEMPT_LABEL

TASKS = Counter("scoremate_tasks", "Background task runs by task and outcome.", ["task", "outcome"])
TASK_SECONDS = Histogram(
    "scoremate_task_duration_seconds",
    "Duration of background task runs.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
TASK_RETRIES = Counter("scoremate_task_retries", "Retries sent after a task failed.", ["task"])

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
