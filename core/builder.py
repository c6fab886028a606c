"""The one builder of the core: `build_service` wires a `ChatService` from `Settings` and the clients.

The composition root (bots/runtime.py `open_core`), the tests and the benchmarks all build the service here,
so a new collaborator or setting is wired once. What a caller swaps is a keyword: the generator (a model
client or a scripted one), the moderator, the store and the gate (else built on `redis`), the token
counter, the metrics and the clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from core.alignment.base import Moderator
from core.budget import Budget, RedisBudget
from core.gate import Gate, RedisGate
from core.history import ConversationStore, RedisConversationStore
from core.keys import KeySpace
from core.llm import TextGenerator
from core.observability import Metrics
from core.service import ChatService
from core.settings import Settings
from core.tokens import EstimatingCounter, TokenCounter


def code_settings(**groups: Any) -> Settings:
    """`Settings` from code alone: the given groups (`chat=ChatSettings(…)`, …) over the defaults, without
    reading the environment or .env (tests and benchmarks must not depend on the shell they run in)."""
    defaults = {name: field.get_default() for name, field in Settings.model_fields.items()}
    unknown = sorted(set(groups) - set(defaults))
    if unknown:
        raise TypeError(f"unknown settings group(s): {', '.join(unknown)}")
    return Settings.model_construct(**{**defaults, **groups})


def build_store(settings: Settings, redis: aioredis.Redis) -> RedisConversationStore:
    """Conversations in Redis under REDIS_KEY_PREFIX (HISTORY_* settings; REDIS_CLUSTER's key tags)."""
    return RedisConversationStore(
        redis=redis,
        keys=KeySpace(settings.redis.key_prefix),
        settings=settings.history,
        cluster=settings.redis.cluster,
    )


def build_gate(
    settings: Settings, redis: aioredis.Redis, clock: Callable[[], float] = time.time
) -> RedisGate:
    """Dedupe, pauses, mutes and rate limits in Redis (LIMITS_*, CHAT_DEDUPE_TTL_S); `clock` places a
    message in its one-minute rate-limit window and times mutes."""
    return RedisGate(
        redis=redis,
        keys=KeySpace(settings.redis.key_prefix),
        limits=settings.limits,
        dedupe_ttl_s=settings.chat.dedupe_ttl_s,
        clock=clock,
    )


def build_budget(
    settings: Settings,
    redis: aioredis.Redis,
    metrics: Metrics,
    clock: Callable[[], float] = time.time,
) -> RedisBudget:
    """Daily token budgets in Redis (BUDGET_*), counted in `metrics` per community."""
    return RedisBudget(
        redis=redis,
        keys=KeySpace(settings.redis.key_prefix),
        settings=settings.budget,
        metrics=metrics,
        clock=clock,
    )


def build_service(
    settings: Settings,
    *,
    generator: TextGenerator,
    moderator: Moderator,
    redis: aioredis.Redis | None = None,
    store: ConversationStore | None = None,
    gate: Gate | None = None,
    budget: Budget | None = None,
    counter: TokenCounter | None = None,
    metrics: Metrics | None = None,
    clock: Callable[[], float] = time.time,
) -> ChatService:
    """The message pipeline over the given clients. `store` and `gate` default to Redis ones on `redis`;
    `counter` to the estimate (the composition root passes the one CHAT_TOKENIZER chose, `build_counter`);
    `metrics` to a registry of its own; `budget` to the Redis one on `redis` (none without `redis`). The
    moderator is never defaulted: moderation fails closed, so a
    caller says which one (`AllowAll` only when moderation is off)."""
    if store is None or gate is None:
        if redis is None:
            raise TypeError("build_service needs redis=… unless both store= and gate= are given")
        store = store if store is not None else build_store(settings, redis)
        gate = gate if gate is not None else build_gate(settings, redis)
    metrics = metrics if metrics is not None else Metrics()
    if budget is None and redis is not None:
        budget = build_budget(settings, redis, metrics, clock)
    return ChatService(
        store=store,
        gate=gate,
        generator=generator,
        counter=counter if counter is not None else EstimatingCounter(),
        moderator=moderator,
        chat=settings.chat,
        tgi=settings.tgi,
        alignment=settings.alignment,
        metrics=metrics,
        clock=clock,
        max_in_flight=settings.runtime.max_in_flight,
        budget=budget,
    )
