"""Logs: one line per event, JSON in production or readable text, with the request or task it belongs to.

The request id, task id, task name and score id travel in context variables, so every log line written
while serving a request or running a task carries them without being passed around.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from taskiq import TaskiqMessage, TaskiqMiddleware, TaskiqResult

from adapters.taskiq.names import SCORE_TASKS
from entrypoints.settings import Settings

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
task_id: ContextVar[str | None] = ContextVar("task_id", default=None)
task_name: ContextVar[str | None] = ContextVar("task_name", default=None)
score_id: ContextVar[str | None] = ContextVar("score_id", default=None)
_task_started: ContextVar[float] = ContextVar("task_started", default=0.0)

CONTEXT = {"request_id": request_id, "task_id": task_id, "task_name": task_name, "score_id": score_id}
# uvicorn adds `color_message`: the message again, with terminal colour codes.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LEFT_OUT = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, variable in CONTEXT.items():
            if not hasattr(record, name):
                setattr(record, name, variable.get())
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _LEFT_OUT and value is not None and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def formatMessage(self, record: logging.LogRecord) -> str:
        """Control characters escaped, so a request path cannot start a forged log line (tracebacks keep theirs)."""
        return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{name}={getattr(record, name)}" for name in CONTEXT if getattr(record, name, None))
        return f"{line} [{context}]" if context else line


def configure_logging(settings: Settings) -> None:
    """Route every logger (ours, uvicorn's, taskiq's) through one handler with the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error", "taskiq"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("alembic").setLevel(max(root.level, logging.WARNING))
    # "Executing task": our task lines say that and more (TaskLogMiddleware).
    logging.getLogger("taskiq.receiver").setLevel(max(root.level, logging.WARNING))
    # Access lines come from our own middleware: uvicorn's would print signed storage URLs.
    logging.getLogger("uvicorn.access").disabled = True


task_logger = logging.getLogger("scoremate.tasks")


class TaskLogMiddleware(TaskiqMiddleware):
    """Puts the task's identity in the log context and logs how each run ended."""

    def pre_execute(self, message: TaskiqMessage) -> TaskiqMessage:
        task_id.set(message.task_id)
        task_name.set(message.task_name)
        score_id.set(str(message.args[0]) if message.task_name in SCORE_TASKS and message.args else None)
        _task_started.set(time.monotonic())
        task_logger.info("task started")
        return message

    def post_execute(self, message: TaskiqMessage, result: TaskiqResult[Any]) -> None:
        elapsed = time.monotonic() - _task_started.get()
        outcome = "failed" if result.is_err else "succeeded"
        task_logger.info("task %s in %.3f s", outcome, elapsed, extra={"outcome": outcome, "seconds": elapsed})
