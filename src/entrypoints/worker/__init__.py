"""The Taskiq side: broker construction, task functions, and the worker process (which also sends housekeeping)."""
