"""Wire a broker to the container: tasks, dependency injection and retries, for the API and the worker."""

from __future__ import annotations

from dishka import AsyncContainer
from dishka.integrations.taskiq import TaskiqProvider, setup_dishka
from taskiq import AsyncBroker

from adapters.taskiq.metrics import TaskMetricsMiddleware
from adapters.taskiq.retry import BackoffRetryMiddleware
from entrypoints.ioc import make_container
from entrypoints.observability import TaskLogMiddleware
from entrypoints.settings import Settings
from entrypoints.worker.broker import build_broker
from entrypoints.worker.tasks import give_up_handler, register_tasks


def build_runtime(settings: Settings, *extra_providers: object) -> tuple[AsyncBroker, AsyncContainer]:
    broker = build_broker(settings)
    container = make_container(settings, broker, TaskiqProvider(), *extra_providers)  # type: ignore[arg-type]
    register_tasks(broker)
    setup_dishka(container, broker)
    broker.add_middlewares(
        TaskLogMiddleware(),
        TaskMetricsMiddleware(),
        BackoffRetryMiddleware(
            max_retries=settings.task_max_retries,
            base_delay=settings.task_retry_base_seconds,
            on_give_up=give_up_handler(container),
        ),
    )
    return broker, container
