"""Events arriving faster than they are served, through the core built as `dolphin-relay` builds it
(bots.runtime.open_core), against a real redis-server and the fake TGI."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from bots.runtime import build_redis, open_core
from core.errors import Busy, HistoryUnavailable
from core.history import decode_exchange, redis_call
from core.keys import KeySpace
from core.models import ConversationKey, IncomingMessage, Outcome, Platform
from core.settings import LimitSettings, RedisSettings, Settings, TGISettings
from tests.fakes.memory import RecordingSink
from tests.fakes.tgi import FakeTGI
from tests.ports import refused_port

KEYS = KeySpace("relay")
UNREACHABLE = "I can't reach my memory store right now, so I can't answer. Please try again shortly."
BURST = 500
POOL = 8


async def test_a_burst_far_above_the_redis_pool_is_queued_not_refused(redis_client: aioredis.Redis) -> None:
    """500 messages at once over 500 channels, with 8 Redis connections per process and the default
    RUNTIME_MAX_IN_FLIGHT (256): the rest wait their turn in front of the core, and the commands of those
    in flight wait for a pooled connection. Nobody is told that the memory store is unreachable while Redis
    is healthy (a wait for a pooled connection used to time out after REDIS_SOCKET_TIMEOUT_S as
    "unreachable"), every answer shown is stored, and no conversation lock is left behind."""
    url = redis_client.connection_pool.connection_kwargs
    async with FakeTGI() as tgi:
        settings = Settings(
            tgi=TGISettings(url=tgi.url),
            redis=RedisSettings(
                url=f"redis://{url['host']}:{url['port']}/0", max_connections=POOL, socket_timeout_s=1
            ),
            limits=LimitSettings(user_per_minute=0, channel_per_minute=0),
        )
        keys = [ConversationKey(Platform.SLACK, "T1", f"C{n}") for n in range(BURST)]
        sinks = [RecordingSink() for _ in range(BURST)]
        started = time.monotonic()
        async with open_core(settings) as core:
            results = await asyncio.gather(
                *(
                    core.service.handle(
                        IncomingMessage(
                            key=key, message_id=f"m{n}", author_id=f"U{n}", author_name="Ann", text=f"q{n}"
                        ),
                        sink,
                    )
                    for n, (key, sink) in enumerate(zip(keys, sinks, strict=True))
                )
            )
            releasing = set(core.service._store._releasing)  # type: ignore[attr-defined]
            if releasing:  # a release retried in the background (none while Redis is healthy)
                await asyncio.wait(releasing, timeout=5)
        took = time.monotonic() - started
    notices = [sink.of("fail") for sink in sinks if sink.of("fail")]
    assert [n for n in notices if UNREACHABLE in n] == [], f"{len(notices)} notices, e.g. {notices[:3]}"
    assert [r.outcome for r in results] == [Outcome.ANSWERED] * BURST
    pipe = redis_client.pipeline(transaction=False)
    for key in keys:
        pipe.lrange(KEYS.turns(key.id), 0, -1)
    stored = await pipe.execute()
    for n, (rows, sink) in enumerate(zip(stored, sinks, strict=True)):
        assert sink.of("finish"), f"message {n} was not answered"
        assert [decode_exchange(r).user.text for r in rows] == [f"q{n}"], f"answer {n} shown, not stored"  # type: ignore[union-attr]
    assert [k async for k in redis_client.scan_iter(match="*:lock")] == []
    print(f"{BURST} messages with {POOL} connections: {took:.1f} s")


async def test_a_wait_for_a_pooled_connection_that_times_out_is_busy_not_unreachable(
    redis_client: aioredis.Redis,
) -> None:
    """Every connection of the pool is taken: the next command waits
    REDIS_POOL_WAIT_S for one, then the member is told the bot is busy, not that Redis is unreachable
    (redis-py raises the same ConnectionError for both)."""
    url = redis_client.connection_pool.connection_kwargs
    settings = Settings(
        redis=RedisSettings(url=f"redis://{url['host']}:{url['port']}/0", max_connections=4, pool_wait_s=0.5)
    )
    client = build_redis(settings)
    pool = client.connection_pool
    try:
        taken = [await pool.get_connection() for _ in range(4)]  # e.g. four slow commands
        started = time.monotonic()
        with pytest.raises(HistoryUnavailable) as waited:
            await redis_call(client.get("relay:test:x"))
        assert waited.value.notice == Busy.notice
        assert time.monotonic() - started >= 0.4  # it did wait its turn first
        for connection in taken:
            await pool.release(connection)
        assert await redis_call(client.get("relay:test:x")) is None  # the pool serves again
    finally:
        await client.aclose()
    with pytest.raises(HistoryUnavailable) as down:  # a Redis that is really not there stays "unreachable"
        dead = build_redis(Settings(redis=RedisSettings(url=f"redis://127.0.0.1:{refused_port()}/0")))
        try:
            await redis_call(dead.get("x"))
        finally:
            await dead.aclose()
    assert down.value.notice == UNREACHABLE
