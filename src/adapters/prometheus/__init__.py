"""Prometheus metrics of what the HTTP framework cannot see: reservations and the depth of the task queue."""
