"""The metric families. prometheus_client keeps them in its default registry, one set per process."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

TASKS = Counter("scoremate_tasks", "Background task runs by task and outcome.", ["task", "outcome"])
TASK_SECONDS = Histogram(
    "scoremate_task_duration_seconds",
    "Duration of background task runs.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
TASK_RETRIES = Counter("scoremate_task_retries", "Retries sent after a task failed.", ["task"])
RESERVATIONS = Counter("scoremate_quota_reservations", "Quota reservations by result.", ["result"])
QUEUE_DEPTH = Gauge(
    "scoremate_task_queue_depth",
    "Messages in the task stream, and those taken but not yet acknowledged.",
    ["state"],
    multiprocess_mode="max",
)
