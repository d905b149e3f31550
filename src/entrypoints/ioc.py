"""The composition root: the one place that builds objects. It picks adapters from the settings, wires the use
cases, and gives the API and the worker the same broker and container (`make_runtime`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from dishka import AsyncContainer, Provider, Scope, alias, make_async_container, provide
from dishka.integrations.taskiq import TaskiqProvider
from dishka.integrations.taskiq import setup_dishka as setup_taskiq_injection
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from taskiq import AsyncBroker, InMemoryBroker
from taskiq_redis import RedisAsyncResultBackend

from adapters.clock import SystemClock
from adapters.memory.quota_ledger import InMemoryQuotaLedger
from adapters.memory.rate_limiter import InMemoryRateLimiter
from adapters.pdf import PymupdfRenderer
from adapters.prometheus.ledger import MeteredQuotaLedger
from adapters.prometheus.queue_depth import StreamDepthGauge
from adapters.redis import RedisPeriodicClaims, RedisQuotaLedger, RedisRateLimiter
from adapters.security.argon2_hasher import Argon2PasswordHasher
from adapters.security.jwt_tokens import JwtTokenIssuer
from adapters.sqlalchemy.database import AlembicDatabase
from adapters.sqlalchemy.engine import create_engine, create_session_factory
from adapters.sqlalchemy.unit_of_work import SqlAlchemyUnitOfWork
from adapters.storage.local import LocalObjectStorage
from adapters.storage.s3 import S3ObjectStorage
from adapters.storage.scratch import TempFileScratchSpace
from adapters.taskiq.metrics import TaskMetricsMiddleware
from adapters.taskiq.queue import TaskiqQueue
from adapters.taskiq.retry import BackoffRetryMiddleware
from adapters.taskiq.stream_broker import ResilientRedisStreamBroker
from application.policy import Policy
from application.ports import (
    Clock,
    Database,
    ObjectStorage,
    PasswordHasher,
    PdfRenderer,
    QuotaLedger,
    RateLimiter,
    ScratchSpace,
    TaskQueue,
    TokenIssuer,
    UnitOfWork,
)
from entrypoints.observability import TaskLogMiddleware
from entrypoints.settings import Settings
from entrypoints.use_cases import UseCaseProvider
from entrypoints.worker.housekeeping import Housekeeping, housekeeping_schedule
from entrypoints.worker.tasks import give_up_handler, register_tasks

TASK_RESULT_TTL_SECONDS = 3600


class ConfigProvider(Provider):
    scope = Scope.APP

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self._settings = settings

    @provide
    def settings(self) -> Settings:
        return self._settings

    @provide
    def policy(self, settings: Settings) -> Policy:
        return Policy(
            default_quota_bytes=settings.default_quota_bytes,
            max_upload_bytes=settings.max_upload_bytes,
            presign_expiry_seconds=settings.presign_expiry_seconds,
            reservation_ttl_seconds=settings.reservation_ttl_seconds,
            unused_upload_grace_seconds=settings.unused_upload_grace_seconds,
            stuck_processing_seconds=settings.stuck_processing_seconds,
            max_page_thumbnails=settings.max_page_thumbnails,
            page_thumbnails_seconds=settings.page_thumbnails_seconds,
            max_pending_uploads=settings.max_pending_uploads,
            login_failure_rule=settings.login_failure_rule,
            login_address_failure_rule=settings.login_address_failure_rule,
            login_email_failure_rule=settings.login_email_failure_rule,
            upload_rate_rule=settings.upload_rate_rule,
            score_action_rule=settings.score_action_rule,
            register_rule=settings.register_rule,
            trash_retention_days=settings.trash_retention_days,
            registration_open=settings.registration == "open",
            account_status_refresh_seconds=settings.account_status_refresh_seconds,
        )


class InfrastructureProvider(Provider):
    """Adapters shared by the whole process (APP scope), closed when the container closes."""

    scope = Scope.APP

    @provide
    async def engine(self, settings: Settings) -> AsyncIterator[AsyncEngine]:
        engine = create_engine(
            settings.effective_database_url,
            max_connections=settings.database_max_connections,
            pool_timeout_seconds=settings.database_pool_timeout_seconds,
        )
        yield engine
        await engine.dispose()

    @provide
    def session_factory(self, engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
        return create_session_factory(engine)

    @provide(scope=Scope.REQUEST)
    def uow(self, session_factory: async_sessionmaker[AsyncSession]) -> UnitOfWork:
        return SqlAlchemyUnitOfWork(session_factory)

    @provide
    def database(self, engine: AsyncEngine, settings: Settings) -> Database:
        return AlembicDatabase(engine, settings.effective_database_url)

    @provide
    def clock(self) -> Clock:
        return SystemClock()

    @provide
    def hasher(self) -> PasswordHasher:
        return Argon2PasswordHasher()

    @provide
    def tokens(self, settings: Settings) -> TokenIssuer:
        return JwtTokenIssuer(settings.secret("tokens"), lifetime_seconds=settings.access_token_ttl_seconds)

    @provide
    async def renderer(self, settings: Settings) -> AsyncIterator[PdfRenderer]:
        renderer = PymupdfRenderer(
            processes=settings.render_processes,
            render_timeout_seconds=settings.render_timeout_seconds,
            inspect_timeout_seconds=settings.inspect_timeout_seconds,
            max_output_pixels=settings.render_max_output_pixels,
            max_page_points=settings.render_max_page_points,
            memory_limit_bytes=settings.render_memory_limit_bytes or None,
        )
        renderer.start()
        yield renderer
        await renderer.close()

    @provide
    def scratch(self, storage: ObjectStorage, settings: Settings) -> ScratchSpace:
        # On disk with the data, not in a temporary directory that may be memory: copies can be 100 MB.
        return TempFileScratchSpace(storage, settings.data_dir.resolve() / "scratch")


class LocalStorageProvider(Provider):
    scope = Scope.APP

    @provide
    def local_storage(self, settings: Settings) -> LocalObjectStorage:
        return LocalObjectStorage(
            settings.data_dir / "objects", settings.effective_public_base_url, settings.secret("storage-urls").encode()
        )

    @provide
    def storage(self, local: LocalObjectStorage) -> ObjectStorage:
        return local


class S3StorageProvider(Provider):
    scope = Scope.APP

    @provide
    async def storage(self, settings: Settings) -> ObjectStorage:
        storage = S3ObjectStorage(
            endpoint=settings.s3_endpoint,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            bucket=settings.s3_bucket,
            secure=settings.s3_secure,
            region=settings.s3_region,
            public_endpoint=settings.s3_public_endpoint,
        )
        await storage.ensure_bucket()
        return storage


class InProcessStateProvider(Provider):
    """Embedded default: quota and rate limits live in this process."""

    scope = Scope.APP

    @provide
    def ledger(self) -> QuotaLedger:
        return MeteredQuotaLedger(InMemoryQuotaLedger())

    @provide
    def limiter(self) -> RateLimiter:
        return InMemoryRateLimiter()

    @provide
    def queue(self, broker: AsyncBroker) -> TaskiqQueue:
        return TaskiqQueue(broker)

    task_queue = alias(source=TaskiqQueue, provides=TaskQueue)

    @provide
    def housekeeping(self, queue: TaskiqQueue, settings: Settings) -> Housekeeping:
        return Housekeeping(queue, housekeeping_schedule(settings))


class RedisStateProvider(Provider):
    """Production: quota and rate limits in Redis, shared by every API process."""

    scope = Scope.APP

    @provide
    async def redis(self, settings: Settings) -> AsyncIterator[Redis]:
        assert settings.redis_url
        client = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        yield client
        await client.aclose()

    @provide
    def ledger(self, redis: Redis, settings: Settings) -> QuotaLedger:
        return MeteredQuotaLedger(RedisQuotaLedger(redis, key_prefix=settings.redis_key_prefix))

    @provide
    def limiter(self, redis: Redis, settings: Settings) -> RateLimiter:
        return RedisRateLimiter(redis, key_prefix=settings.redis_key_prefix)

    @provide
    def queue(self, broker: AsyncBroker, redis: Redis) -> TaskiqQueue:
        return TaskiqQueue(broker, ping=redis.ping)

    task_queue = alias(source=TaskiqQueue, provides=TaskQueue)

    @provide
    def claims(self, redis: Redis, settings: Settings) -> RedisPeriodicClaims:
        return RedisPeriodicClaims(redis, settings.redis_key_prefix)

    @provide
    def housekeeping(
        self, queue: TaskiqQueue, claims: RedisPeriodicClaims, redis: Redis, settings: Settings
    ) -> Housekeeping:
        gauge = StreamDepthGauge(redis, *_stream_names(settings))
        return Housekeeping(queue, housekeeping_schedule(settings), claims.claim, gauge.measure)


class BrokerProvider(Provider):
    scope = Scope.APP

    def __init__(self, broker: AsyncBroker) -> None:
        super().__init__()
        self._broker = broker

    @provide
    def broker(self) -> AsyncBroker:
        return self._broker


def make_container(settings: Settings, broker: AsyncBroker, *extra: Provider) -> AsyncContainer:
    """Everything the API and the worker need, with adapters chosen by the settings."""
    providers: list[Provider] = [
        ConfigProvider(settings),
        InfrastructureProvider(),
        S3StorageProvider() if settings.storage == "s3" else LocalStorageProvider(),
        RedisStateProvider() if settings.redis_url else InProcessStateProvider(),
        BrokerProvider(broker),
        UseCaseProvider(),
        *extra,
    ]
    return make_async_container(*providers)


def make_runtime(settings: Settings, *extra: Provider) -> tuple[AsyncBroker, AsyncContainer]:
    """The broker with its tasks, retries and metrics, and the container its tasks are injected from."""
    broker = _broker(settings)
    container = make_container(settings, broker, TaskiqProvider(), *extra)
    register_tasks(broker)
    setup_taskiq_injection(container, broker)
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


def _stream_names(settings: Settings) -> tuple[str, str]:
    """The Redis stream of tasks and the consumer group of the workers."""
    return f"{settings.redis_key_prefix}tasks", f"{settings.redis_key_prefix}workers"


def _broker(settings: Settings) -> AsyncBroker:
    if not settings.redis_url:
        # Embedded default: tasks run as asyncio tasks of the API process itself.
        return InMemoryBroker(max_stored_results=1000, propagate_exceptions=False)
    stream, group = _stream_names(settings)
    broker = ResilientRedisStreamBroker(
        settings.redis_url,
        queue_name=stream,
        consumer_group_name=group,
        maxlen=settings.task_stream_maxlen,
        # Liveness per worker: a worker whose heartbeat lapsed is dead, and a live one takes over its tasks.
        heartbeat_interval=settings.worker_heartbeat_seconds,
        heartbeat_ttl=settings.worker_heartbeat_ttl_seconds,
        # The last resort, for workers that do not beat (an older version during an upgrade): a task unacknowledged
        # this long goes to another worker.
        idle_timeout=int(settings.task_idle_timeout_seconds * 1000),
        # Answers within seconds or counts as lost (a restarting Redis), so that nothing waits on it for ever; longer
        # than the 2 s that a worker's read blocks for new tasks.
        socket_connect_timeout=5,
        socket_timeout=10,
    )
    return broker.with_result_backend(
        RedisAsyncResultBackend(
            settings.redis_url, result_ex_time=TASK_RESULT_TTL_SECONDS, prefix_str=f"{settings.redis_key_prefix}results"
        )
    )
