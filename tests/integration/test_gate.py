"""The gate against a real redis-server: dedupe, pause, mute, shared rate limits, one round trip."""

from __future__ import annotations

import redis.asyncio as aioredis

from core.gate import AdmissionKind, RedisGate
from core.keys import KeySpace
from core.models import ConversationKey, IncomingMessage, Platform
from core.settings import LimitSettings

KEYS = KeySpace("test")


class Clock:
    def __init__(self, now: float = 1_000_020.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def msg(mid: str, *, author: str = "u1", space: str = "T1", channel: str = "C1", thread: str | None = None):
    key = ConversationKey(Platform.SLACK, space, channel, thread)
    return IncomingMessage(key=key, message_id=mid, author_id=author, author_name=author, text="hi")


def gate(client: aioredis.Redis, clock: Clock | None = None, **limits: int) -> RedisGate:
    return RedisGate(
        redis=client,
        keys=KEYS,
        limits=LimitSettings(**{"user_per_minute": 0, "channel_per_minute": 0, **limits}),
        dedupe_ttl_s=3600,
        clock=clock or Clock(),
    )


async def test_duplicate_is_recognized_and_every_key_expires(redis_client: aioredis.Redis) -> None:
    g = gate(redis_client, user_per_minute=5, channel_per_minute=5)
    assert (await g.admit(msg("Ev1"))).kind is AdmissionKind.OK
    assert (await g.admit(msg("Ev1"))).kind is AdmissionKind.DUPLICATE
    assert (await g.admit(msg("Ev1", space="T2"))).kind is AdmissionKind.DUPLICATE  # event ids are global
    await g.set_paused(msg("x").key, True)
    await g.mute("slack:T1:u9", 30)
    async for key in redis_client.scan_iter("*"):
        assert await redis_client.ttl(key) > 0, key


async def test_pause_covers_every_thread_of_a_channel(redis_client: aioredis.Redis) -> None:
    g = gate(redis_client)
    await g.set_paused(msg("a").key, True)
    assert await g.is_paused(msg("a", thread="171.1").key)
    assert (await g.admit(msg("b", thread="171.1"))).kind is AdmissionKind.PAUSED
    assert (await g.admit(msg("c", space="T2"))).kind is AdmissionKind.OK  # another workspace
    await g.set_paused(msg("a").key, False)
    assert (await g.admit(msg("d"))).kind is AdmissionKind.OK


async def test_mute_and_its_expiry(redis_client: aioredis.Redis) -> None:
    clock = Clock()
    g = gate(redis_client, clock)
    until = await g.mute("slack:T1:u1", 60)
    result = await g.admit(msg("a"))
    assert result.kind is AdmissionKind.MUTED and result.until == until
    assert (await g.admit(msg("b", author="u2"))).kind is AdmissionKind.OK
    clock.now += 61  # the stored end time has passed even if the key lingered
    assert (await g.admit(msg("c"))).kind is AdmissionKind.OK
    await g.mute("slack:T1:u1", 60)
    await g.unmute("slack:T1:u1")
    assert (await g.admit(msg("d"))).kind is AdmissionKind.OK


async def test_user_and_channel_rate_limits(redis_client: aioredis.Redis) -> None:
    clock = Clock(1_000_040.0)  # 20 s into a minute window
    g = gate(redis_client, clock, user_per_minute=2, channel_per_minute=3)
    assert [(await g.admit(msg(f"u{i}"))).kind for i in range(3)] == [
        AdmissionKind.OK,
        AdmissionKind.OK,
        AdmissionKind.RATE_LIMITED,
    ]
    limited = await g.admit(msg("u3"))
    assert limited.scope == "user" and 39 <= limited.retry_after_s <= 41
    # another user in the same channel: the channel limit (3) is reached by now
    other = await g.admit(msg("o1", author="u2"))
    assert other.kind is AdmissionKind.RATE_LIMITED and other.scope == "channel"
    # another workspace with the same channel id has its own limits
    assert (await g.admit(msg("w1", space="T2"))).kind is AdmissionKind.OK
    clock.now += 60
    assert (await g.admit(msg("later"))).kind is AdmissionKind.OK


async def test_zero_means_no_limit(redis_client: aioredis.Redis) -> None:
    g = gate(redis_client)
    assert all([(await g.admit(msg(f"m{i}"))).kind is AdmissionKind.OK for i in range(50)])


async def test_two_processes_share_limits(redis_client: aioredis.Redis, redis_url: str) -> None:
    other = aioredis.Redis.from_url(redis_url)
    try:
        clock = Clock()
        g1, g2 = gate(redis_client, clock, user_per_minute=3), gate(other, clock, user_per_minute=3)
        kinds = [(await (g1 if i % 2 else g2).admit(msg(f"m{i}"))).kind for i in range(4)]
        assert kinds.count(AdmissionKind.RATE_LIMITED) == 1
        assert (await g2.admit(msg("m1"))).kind is AdmissionKind.DUPLICATE
    finally:
        await other.aclose()


async def test_admit_is_one_round_trip(redis_client: aioredis.Redis, redis_url: str) -> None:
    from tests.integration.test_history import CountingRedis

    client = CountingRedis.from_url(redis_url)
    try:
        g = gate(client, user_per_minute=5, channel_per_minute=5)
        CountingRedis.trips = 0
        pipelines = 0
        original = client.pipeline

        def counting_pipeline(*args, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal pipelines
            pipelines += 1
            return original(*args, **kwargs)

        client.pipeline = counting_pipeline  # type: ignore[method-assign]
        await g.admit(msg("one"))
        assert pipelines == 1 and CountingRedis.trips == 0
    finally:
        await client.aclose()
