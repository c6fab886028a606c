"""The gate against a real redis-server: dedupe, pause, mute, shared rate limits, one round trip."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from core.gate import Admission, AdmissionKind, RedisGate
from core.keys import KeySpace
from core.models import ConversationKey, IncomingMessage, Platform
from core.settings import LimitSettings
from tests.clock import WINDOW_START, Clock

KEYS = KeySpace("test")
OK, DUP, RL = AdmissionKind.OK, AdmissionKind.DUPLICATE, AdmissionKind.RATE_LIMITED


def msg(
    mid: str, *, author: str = "u1", space: str = "T1", channel: str = "C1", thread: str | None = None
) -> IncomingMessage:
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


async def kinds(g: RedisGate, *messages: IncomingMessage) -> list[AdmissionKind]:
    return [(await g.admit(m)).kind for m in messages]


def counting_client(url: str, **options: Any) -> tuple[aioredis.Redis, list[int], list[bool]]:
    """Counts round trips (packed sends); `timeout_once[0] = True` makes the next send's reply time out
    after the server has run it."""
    sent, timeout_once = [0], [False]

    class CountingConnection(aioredis.Connection):
        async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            sent[0] += 1
            await super().send_packed_command(command, check_health)
            if timeout_once[0]:
                timeout_once[0] = False
                raise redis.exceptions.TimeoutError("reply timed out (injected)")

    pool = aioredis.ConnectionPool.from_url(url, connection_class=CountingConnection, **options)
    return aioredis.Redis.from_pool(pool), sent, timeout_once


async def test_duplicate_is_recognized_and_every_key_expires(redis_client: aioredis.Redis) -> None:
    g = gate(redis_client, user_per_minute=5, channel_per_minute=5)
    assert await kinds(g, msg("Ev1"), msg("Ev1"), msg("Ev1", space="T2")) == [OK, DUP, DUP]
    await g.set_paused(msg("x").key, True)
    await g.mute("slack:T1:u9", 30)
    await g.admit(msg("x"))  # paused: its counts are taken back
    keys = [k async for k in redis_client.scan_iter("*")]
    names = {k.decode() for k in keys}
    assert {KEYS.seen(Platform.SLACK, "Ev1"), KEYS.paused(msg("x").key), KEYS.mute("slack:T1:u9")} <= names
    assert any(":rl:user:" in n for n in names) and any(":rl:chan:" in n for n in names)
    for key in keys:
        assert await redis_client.ttl(key) > 0, key
    assert await redis_client.ttl(KEYS.paused(msg("x").key)) > 300 * 24 * 3600


async def test_a_duplicate_counts_nowhere(redis_client: aioredis.Redis) -> None:
    g = gate(redis_client, user_per_minute=2, channel_per_minute=2)
    assert await kinds(g, msg("a"), msg("a"), msg("a"), msg("a"), msg("b")) == [OK, DUP, DUP, DUP, OK]
    assert await kinds(g, msg("c")) == [RL]


async def test_pause_covers_every_thread_of_a_channel(redis_client: aioredis.Redis) -> None:
    g = gate(redis_client, channel_per_minute=2)
    await g.set_paused(msg("a").key, True)
    assert await g.is_paused(msg("a", thread="171.1").key)
    assert not await g.is_paused(msg("a", channel="C2").key)
    assert await kinds(g, *(msg(f"p{i}", thread="171.1") for i in range(3))) == [AdmissionKind.PAUSED] * 3
    assert await kinds(g, msg("c", space="T2")) == [OK]  # the same channel id in another workspace
    await g.set_paused(msg("a").key, False)
    assert not await g.is_paused(msg("a").key)
    assert await kinds(g, msg("d"), msg("e")) == [OK, OK]  # messages while paused did not count


async def test_mute_and_its_expiry(redis_client: aioredis.Redis) -> None:
    clock = Clock()
    g = gate(redis_client, clock, channel_per_minute=3)
    until = await g.mute("slack:T1:u1", 60)
    assert until == clock.now + 60
    assert 0 < await redis_client.ttl(KEYS.mute("slack:T1:u1")) <= 60
    results = [await g.admit(msg(f"m{i}")) for i in range(5)]  # a muted user keeps posting
    assert all(r.kind is AdmissionKind.MUTED and r.until == until for r in results)
    # ...without using up the channel's budget (3/min) for everyone else
    others = [msg(f"o{i}", author=f"x{i}") for i in range(4)]
    assert await kinds(g, *others) == [OK, OK, OK, RL]
    assert await kinds(g, msg("t", space="T2")) == [OK]  # the same user id in another workspace
    clock.now += 61  # the stored end time has passed even if the key lingered
    assert await kinds(g, msg("c")) == [OK]
    await g.mute("slack:T1:u1", 60)
    assert await kinds(g, msg("d")) == [AdmissionKind.MUTED]
    await g.unmute("slack:T1:u1")
    assert await redis_client.exists(KEYS.mute("slack:T1:u1")) == 0
    assert await kinds(g, msg("e")) == [OK]


async def test_user_and_channel_rate_limits(redis_client: aioredis.Redis) -> None:
    clock = Clock(WINDOW_START + 20)  # 20 s into a minute window
    g = gate(redis_client, clock, user_per_minute=2, channel_per_minute=3)
    assert await kinds(g, msg("u0"), msg("u1")) == [OK, OK]
    limited = await g.admit(msg("u2"))
    assert limited == Admission(RL, retry_after_s=40.0, scope="user")
    assert await kinds(g, msg("u3")) == [RL]
    # the messages refused to u1 did not use up the channel: another user gets the third slot
    assert await kinds(g, msg("o1", author="u2")) == [OK]
    channel = await g.admit(msg("o2", author="u3"))
    assert channel.kind is RL and channel.scope == "channel" and channel.retry_after_s == 40.0
    # another workspace with the same channel and user ids has its own limits
    assert await kinds(g, msg("w1", space="T2"), msg("w2", space="T2")) == [OK, OK]
    clock.now += 40  # the next window
    assert await kinds(g, msg("later"), msg("later2")) == [OK, OK]
    clock.now += 30.5
    assert (await g.admit(msg("later3"))).retry_after_s == 29.5


async def test_zero_means_no_limit(redis_client: aioredis.Redis) -> None:
    g = gate(redis_client)
    assert await kinds(g, *(msg(f"m{i}") for i in range(50))) == [OK] * 50
    assert [k async for k in redis_client.scan_iter("*:rl:*")] == []
    g = gate(redis_client, channel_per_minute=0, user_per_minute=1)
    assert await kinds(g, msg("x1"), msg("x2"), msg("y1", author="u2")) == [OK, RL, OK]


async def test_two_processes_share_limits_and_dedupe(redis_client: aioredis.Redis, redis_url: str) -> None:
    other = aioredis.Redis.from_url(redis_url)
    try:
        clock = Clock()
        g1, g2 = gate(redis_client, clock, user_per_minute=3), gate(other, clock, user_per_minute=3)
        results = [(await (g1 if i % 2 else g2).admit(msg(f"m{i}"))).kind for i in range(5)]
        assert results == [OK, OK, OK, RL, RL]
        assert await kinds(g2, msg("m1")) == [DUP]  # admitted by the other process
        await g1.set_paused(msg("m").key, True)
        assert await g2.is_paused(msg("m").key)
        await g2.mute("slack:T1:u2", 60)
        assert await kinds(g1, msg("z", author="u2", channel="C2")) == [AdmissionKind.MUTED]
    finally:
        await other.aclose()


async def test_admit_is_one_round_trip(redis_client: aioredis.Redis, redis_url: str) -> None:
    client, sent, _ = counting_client(redis_url)
    try:
        g = gate(client, user_per_minute=1, channel_per_minute=5)
        await client.ping()  # connect
        sent[0] = 0
        assert await kinds(g, msg("one")) == [OK]
        assert sent[0] == 1
        sent[0] = 0
        assert await kinds(g, msg("two")) == [RL]
        assert sent[0] == 2  # a refused message also takes its counts back
    finally:
        await client.aclose()


async def test_a_retried_admit_is_not_its_own_duplicate(redis_client: aioredis.Redis, redis_url: str) -> None:
    # redis-py retries a pipeline whose reply timed out, although the server ran it
    client, _, timeout_once = counting_client(redis_url, retry=Retry(NoBackoff(), 2))
    try:
        g = gate(client)
        await client.ping()
        timeout_once[0] = True
        assert await kinds(g, msg("one")) == [OK]
        assert not timeout_once[0]  # the first attempt ran, its reply was lost, the retry ran again
        assert await kinds(g, msg("one")) == [DUP]
    finally:
        await client.aclose()
