"""The composition root's building blocks: every client is built once here and passed in.

`open_core(settings)` is an async context manager: it builds the Redis client, the shared HTTP client, the
model client, the gate, the moderator and the `ChatService` (through core/builder.py, as the tests and the
benchmarks do), and closes them in order on exit (after the adapters have stopped taking messages and
drained their tasks).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import redis.asyncio as aioredis
import redis.exceptions
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from bots.tasks import TaskTracker
from core.alignment.audit import AuditEvent, AuditLog, ModFeed, ModFeedQueue, stop_serving
from core.alignment.base import Moderator
from core.builder import build_gate, build_service
from core.errors import ConfigurationError, ModelUnavailable
from core.gate import NoticeThrottle
from core.greeting import FirstVisits
from core.history import RedisConversationStore
from core.keys import KeySpace
from core.llm import ModelInfo, TextGenerator, build_generator, build_http_client, build_model_session
from core.models import Platform
from core.observability import Metrics, redact_url
from core.reports import ReportService
from core.service import ChatService
from core.settings import Settings, tgi_urls
from core.threads import ThreadIndex
from core.tokens import build_counter
from core.write_budget import WriteBudget

log = structlog.get_logger(__name__)


@dataclass
class Core:
    settings: Settings
    service: ChatService
    redis: aioredis.Redis
    http: httpx.AsyncClient
    generator: TextGenerator
    moderator: Moderator
    metrics: Metrics
    key_prefix: str
    tasks: TaskTracker = field(default_factory=TaskTracker)
    # The moderators' feed of each platform with a mod-log channel (given to the moderator when it was built);
    # the platform's adapter serves it.
    mod_feeds: dict[Platform, ModFeedQueue] = field(default_factory=dict)
    notices: NoticeThrottle = field(init=False)  # cooldown notices once per cooldown, on every platform
    # the platforms' write budgets, shared by replicas (core/write_budget.py)
    write_budget: WriteBudget = field(init=False)
    reports: ReportService = field(init=False)  # members' reports of answers (core/reports.py)

    def __post_init__(self) -> None:
        keys = KeySpace(self.key_prefix)
        self.notices = NoticeThrottle(redis=self.redis, keys=keys)
        self.reports = ReportService(
            answers=RedisConversationStore(
                redis=self.redis,
                keys=keys,
                settings=self.settings.history,
                cluster=self.settings.redis.cluster,
            ),
            redis=self.redis,
            keys=keys,
            audit=AuditLog(redis=self.redis, keys=keys, audit=self.moderator.audit_settings()),
            feeds=list(self.mod_feeds.values()),
            metrics=self.metrics,
            ttl_s=self.settings.history.ttl_s,
        )
        self.write_budget = WriteBudget(redis=self.redis, metrics=self.metrics)

    def mod_feed(self, platform: Platform) -> ModFeedQueue | None:
        """The events for `platform`'s mod-log channel; None without one, or with moderation off."""
        return self.mod_feeds.get(platform)

    def serve_mod_log(
        self, platform: Platform, post: Callable[[AuditEvent], Awaitable[None]]
    ) -> asyncio.Task[None] | None:
        """Serves `platform`'s moderators' feed to `post` (its mod-log poster) in a task; None, with one warning,
        when moderation is off. The adapter ends it with `wind_down` at shutdown."""
        feed = self.mod_feed(platform)
        if feed is None:
            log.warning(f"{platform.value}.mod_log_unavailable", reason="moderation is disabled")
            return None
        return asyncio.create_task(feed.serve(post), name=f"mod-log-{platform.value}")

    async def wind_down(self, mod_log: asyncio.Task[None] | None) -> None:
        """An adapter's shutdown once it takes no more messages: the answers in flight drained within
        RUNTIME_SHUTDOWN_GRACE_S, then its mod-log feed ended."""
        await self.tasks.drain(self.settings.runtime.shutdown_grace_s)
        await stop_serving(mod_log)

    def threads(self, platform: Platform) -> ThreadIndex:
        """The threads of each channel the bot takes part in on `platform` (kept as long as history)."""
        return ThreadIndex(
            redis=self.redis,
            keys=KeySpace(self.key_prefix),
            platform=platform,
            ttl_s=self.settings.history.ttl_s,
        )

    def first_visits(self, platform: Platform) -> FirstVisits:
        """Who was greeted in the bot's direct messages on `platform`, shared by every replica."""
        return FirstVisits(redis=self.redis, keys=KeySpace(self.key_prefix), platform=platform)


def build_redis(settings: Settings) -> aioredis.Redis:
    """One client for the process. Reconnects by itself; a short, bounded retry so that a Redis outage
    turns into a notice within about a second instead of stalling every message."""
    cfg = settings.redis
    options: dict[str, Any] = {
        "socket_timeout": cfg.socket_timeout_s,
        "socket_connect_timeout": cfg.socket_timeout_s,
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=2),
    }
    try:
        if cfg.cluster:
            from redis.asyncio.cluster import RedisCluster

            return RedisCluster.from_url(cfg.url, max_connections=cfg.max_connections, **options)  # type: ignore[return-value]
        # A blocking pool: a message holds a connection for a command, never while its answer streams, so
        # many more messages than connections are in flight (RUNTIME_MAX_IN_FLIGHT) and their commands
        # queue here for a free one (REDIS_POOL_WAIT_S at most) instead of failing.
        pool = QueuingPool.from_url(
            cfg.url,
            max_connections=cfg.max_connections,
            timeout=cfg.pool_wait_s,
            health_check_interval=30,
            **options,
        )
    except ValueError:
        # Not the parser's text: for a password with an unencoded `/` it quotes a piece of the password
        # ("Port could not be cast to integer value as '…'").
        raise ConfigurationError(
            f"REDIS_URL {redact_url(cfg.url)} is not a valid Redis URL: use"
            " redis://[:password@]host:port/db, with `@`, `:` and `/` in the password percent-encoded",
            setting="REDIS_URL",
        ) from None
    return aioredis.Redis.from_pool(pool)


class QueuingPool(aioredis.BlockingConnectionPool):
    """redis-py's blocking pool, whose wait for a free connection, when it times out, is
    `MaxConnectionsError` (the pool is busy: the core tells the member the bot is busy) rather than the
    `ConnectionError` redis-py raises, which reads as Redis being unreachable."""

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        try:
            # redis-py leaves BlockingConnectionPool.get_connection unannotated
            return await super().get_connection(*args, **kwargs)  # type: ignore[no-untyped-call]
        except redis.exceptions.ConnectionError as exc:
            if isinstance(exc, redis.exceptions.MaxConnectionsError) or not isinstance(
                exc.__cause__, TimeoutError
            ):
                raise  # a connection that could not be opened: Redis is unreachable
            raise redis.exceptions.MaxConnectionsError(
                f"no free connection within {self.timeout} s"
            ) from None


async def check_redis(client: aioredis.Redis, url: str) -> None:
    """Fail start-up with one line that names REDIS_URL when Redis cannot be reached."""
    try:
        await client.ping()
    except Exception as exc:
        raise ConfigurationError(
            f"cannot reach Redis at {redact_url(url)} ({type(exc).__name__}): start Redis or set REDIS_URL",
            setting="REDIS_URL",
        ) from None


async def check_model(generator: TextGenerator, url: str) -> ModelInfo:
    """Fail start-up with one line that names TGI_URL when the model server cannot be reached."""
    try:
        return await generator.info()
    except ModelUnavailable as exc:
        raise ConfigurationError(
            f"cannot reach the model server at {redact_url(url)} ({redact_url(str(exc))}): start TGI or set"
            " TGI_URL",
            setting="TGI_URL",
        ) from None


@asynccontextmanager
async def open_core(
    settings: Settings,
    *,
    require_model: bool = False,
    strikes: bool = True,
    gate_clock: Callable[[], float] = time.time,
) -> AsyncIterator[Core]:
    """Every client and the service, built once; `strikes=False` never mutes anyone (the console);
    `gate_clock`: the clock of the rate limits' one-minute windows and of mutes (tests hold it still)."""
    async with AsyncExitStack() as stack:
        redis = build_redis(settings)
        stack.push_async_callback(redis.aclose)
        http = build_http_client(settings.tgi)  # the guard model's server
        stack.push_async_callback(http.aclose)
        model_http = build_model_session(settings.tgi)  # the model servers' streams
        stack.push_async_callback(model_http.close)
        await check_redis(redis, settings.redis.url)

        urls = tgi_urls(settings.tgi)
        generator = await stack.enter_async_context(
            build_generator(http=model_http, settings=settings.tgi, urls=urls)  # health checks run inside
        )
        if require_model:
            await check_model(generator, ", ".join(urls))

        metrics = Metrics()
        gate = build_gate(settings, redis, gate_clock)
        counter = await build_counter(settings.chat.tokenizer, generator)
        mod_feeds = mod_feed_queues(settings)
        moderator = _build_moderator(
            settings,
            redis=redis,
            http=http,
            mute=gate.mute if strikes else None,
            generator=generator,
            feeds=list(mod_feeds.values()),
        )
        service = build_service(
            settings,
            redis=redis,
            gate=gate,
            generator=generator,
            counter=counter,
            moderator=moderator,
            metrics=metrics,
        )
        yield Core(
            settings=settings,
            service=service,
            redis=redis,
            http=http,
            generator=generator,
            moderator=moderator,
            metrics=metrics,
            key_prefix=settings.redis.key_prefix,
            mod_feeds=mod_feeds,
        )


def mod_feed_queues(settings: Settings) -> dict[Platform, ModFeedQueue]:
    """One feed per platform whose mod-log channel is set (DISCORD_MOD_LOG_CHANNEL,
    SLACK_MOD_LOG_CHANNEL); none with moderation off (nothing would be published)."""
    if not settings.alignment.enabled:
        return {}
    channels = {
        Platform.DISCORD: settings.discord.mod_log_channel,
        Platform.SLACK: settings.slack.mod_log_channel,
    }
    return {platform: ModFeedQueue(platform.value) for platform, channel in channels.items() if channel}


def _build_moderator(
    settings: Settings,
    *,
    redis: aioredis.Redis,
    http: httpx.AsyncClient,
    mute: Callable[[str, float], Awaitable[float]] | None,
    generator: TextGenerator,
    feeds: Sequence[ModFeed],
) -> Moderator:
    from core.alignment.base import AllowAll
    from core.alignment.language import preload_detector

    preload_detector()  # at start-up: the notices speak the member's language, moderation on or off
    if not settings.alignment.enabled:
        return AllowAll()
    # Moderation fails closed: a layer that cannot load stops start-up; it never turns into "allow everything".
    try:
        from core.alignment.moderator import build_moderator
    except ImportError as exc:
        raise ConfigurationError(
            f"moderation is enabled but its layers cannot load ({type(exc).__name__}: {exc}): reinstall "
            "dolphin-relay with its dependencies, or set ALIGNMENT_ENABLED=false to run without moderation",
            setting="ALIGNMENT_ENABLED",
        ) from None
    return build_moderator(
        settings=settings.alignment,
        redis=redis,
        http=http,
        key_prefix=settings.redis.key_prefix,
        mute=mute,
        feeds=feeds,
        generator=generator,  # the self-check's judge (ALIGNMENT_GUARD_MODE=self-check)
    )
