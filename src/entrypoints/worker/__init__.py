"""The Taskiq side: broker construction, task functions, the worker process and the periodic scheduler."""
