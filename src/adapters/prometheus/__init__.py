"""Prometheus metrics of what the HTTP framework cannot see: tasks, retries, reservations, the queue."""
