"""The metric families. prometheus_client keeps them in its default registry, one set per process.

Those of task runs belong to the Taskiq middleware that counts them: adapters.taskiq.metrics.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

RESERVATIONS = Counter("scoremate_quota_reservations", "Quota reservations by result.", ["result"])
QUEUE_DEPTH = Gauge(
    "scoremate_task_queue_depth",
    "Messages in the task stream, and those taken but not yet acknowledged.",
    ["state"],
    multiprocess_mode="max",
)
