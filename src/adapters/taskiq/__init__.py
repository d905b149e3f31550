"""The task queue on Taskiq: queueing by task name, retries with exponential backoff and jitter, task metrics."""
