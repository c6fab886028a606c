"""Events arriving faster than they are served, through the core built as `dolphin-relay` builds it
(bots.runtime.open_core), against a real redis-server and the fake TGI."""

from __future__ import annotations

import asyncio
import time

import redis.asyncio as aioredis

from bots.runtime import open_core
from core.history import decode_exchange
from core.keys import KeySpace
from core.models import ConversationKey, IncomingMessage, Outcome, Platform
from core.settings import LimitSettings, RedisSettings, Settings, TGISettings
from tests.fakes.memory import RecordingSink
from tests.fakes.tgi import FakeTGI

KEYS = KeySpace("relay")
UNREACHABLE = "I can't reach my memory store right now, so I can't answer. Please try again shortly."
BURST = 1000
POOL = 8


async def test_a_burst_far_above_the_redis_pool_is_queued_not_refused(redis_client: aioredis.Redis) -> None:
    """1,000 messages at once over 1,000 channels, with 8 Redis connections per process: each waits its
    turn. Nobody is told that the memory store is unreachable while Redis is healthy (a wait for a pooled
    connection used to time out as "unreachable"), every answer shown is stored, and no conversation lock is
    left behind."""
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
