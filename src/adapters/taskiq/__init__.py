"""The task queue on Taskiq: queueing by task name, and retries with exponential backoff and jitter."""
