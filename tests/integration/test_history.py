"""The Redis history store against a real redis-server."""

from __future__ import annotations

import asyncio
import socket

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from core.errors import HistoryUnavailable
from core.history import RedisConversationStore
from core.keys import KeySpace
from core.models import ConversationKey, Exchange, Platform, Role, Turn
from core.settings import HistorySettings

A = ConversationKey(Platform.DISCORD, "g1", "c1")
B = ConversationKey(Platform.DISCORD, "g2", "c1")  # the same channel id in another guild
KEYS = KeySpace("test")


def exchange(text: str, author: str = "u1", answer: str = "ok") -> Exchange:
    return Exchange(
        user=Turn(Role.USER, text, 3, author_id=author, author_name=author.upper()),
        assistant=Turn(Role.ASSISTANT, answer, 2),
        message_id=f"m-{text}",
        created_at=1.0,
    )


def store(client: aioredis.Redis, **settings: object) -> RedisConversationStore:
    return RedisConversationStore(redis=client, keys=KEYS, settings=HistorySettings(**settings))  # type: ignore[arg-type]


class CountingRedis(aioredis.Redis):
    """Counts round trips: each single command or each executed pipeline is one."""

    trips = 0

    async def execute_command(self, *args, **options):  # type: ignore[no-untyped-def]
        CountingRedis.trips += 1
        return await super().execute_command(*args, **options)


async def test_append_reload_and_trim(redis_client: aioredis.Redis) -> None:
    s = store(redis_client, max_turns=3)
    for i in range(5):
        async with s.open(A) as conv:
            await conv.commit(exchange(f"q{i}"))
    async with s.open(A) as conv:
        assert [ex.user.text for ex in conv.exchanges] == ["q2", "q3", "q4"]
        assert conv.exchanges[0].user.author_name == "U1" and conv.exchanges[0].tokens == 5


async def test_every_key_has_a_ttl(redis_client: aioredis.Redis) -> None:
    s = store(redis_client)
    async with s.open(A) as conv:
        await conv.commit(exchange("hello"))
    await s.set_persona(A, "pirate")
    async with s.open(B) as conv:
        pass
    keys = [k async for k in redis_client.scan_iter("*")]
    assert keys
    for k in keys:
        assert await redis_client.pttl(k) > 0, k


async def test_concurrent_sessions_run_in_order(redis_client: aioredis.Redis) -> None:
    s = store(redis_client)
    order: list[int] = []

    async def one(i: int) -> None:
        async with s.open(A) as conv:
            order.append(i)
            seen = len(conv.exchanges)
            await asyncio.sleep(0.01)
            await conv.commit(exchange(f"q{i}-{seen}"))

    await asyncio.gather(*(one(i) for i in range(5)))
    async with s.open(A) as conv:
        texts = [ex.user.text for ex in conv.exchanges]
    assert texts == [f"q{i}-{n}" for n, i in enumerate(order)]


async def test_two_processes_share_the_lock(redis_client: aioredis.Redis, redis_url: str) -> None:
    c1, c2 = aioredis.Redis.from_url(redis_url), aioredis.Redis.from_url(redis_url)
    s1, s2 = store(c1), store(c2)
    try:

        async def one(s: RedisConversationStore, i: int) -> None:
            async with s.open(A) as conv:
                seen = len(conv.exchanges)
                await asyncio.sleep(0.02)
                await conv.commit(exchange(f"{seen}"))

        await asyncio.gather(*(one(s1 if i % 2 else s2, i) for i in range(6)))
        async with s1.open(A) as conv:
            assert [ex.user.text for ex in conv.exchanges] == [str(n) for n in range(6)]
    finally:
        await c1.aclose()
        await c2.aclose()


async def test_failed_session_commits_nothing_and_releases(redis_client: aioredis.Redis) -> None:
    s = store(redis_client, lock_wait_s=1)
    with pytest.raises(RuntimeError):
        async with s.open(A):
            raise RuntimeError("generation failed")
    async with s.open(A) as conv:
        assert conv.exchanges == []
    assert await redis_client.exists(KEYS.lock(A.id)) == 0


async def test_lock_of_a_crashed_process_expires(redis_client: aioredis.Redis) -> None:
    await redis_client.set(KEYS.lock(A.id), "someone-else", px=300)
    s = store(redis_client, lock_wait_s=3)
    async with s.open(A) as conv:
        await conv.commit(exchange("after the lease"))


async def test_lock_wait_gives_up_with_a_notice(redis_client: aioredis.Redis) -> None:
    await redis_client.set(KEYS.lock(A.id), "someone-else", px=60_000)
    s = store(redis_client, lock_wait_s=0.3)
    with pytest.raises(HistoryUnavailable) as err:
        async with s.open(A):
            pass
    assert "busy" in err.value.notice


async def test_other_conversations_proceed_concurrently(redis_client: aioredis.Redis) -> None:
    s = store(redis_client)
    async with s.open(A):
        async with asyncio.timeout(1):
            async with s.open(B) as conv:
                await conv.commit(exchange("other"))


async def test_persona_clear_and_spaces_do_not_share(redis_client: aioredis.Redis) -> None:
    s = store(redis_client)
    await s.set_persona(A, "pirate")
    async with s.open(A) as conv:
        assert conv.persona == "pirate"
        await conv.commit(exchange("a"))
    assert await s.get_persona(B) is None
    async with s.open(B) as conv:
        assert conv.exchanges == [] and conv.persona is None
    await s.set_persona(A, None)
    assert await s.get_persona(A) is None
    await s.clear(A)
    async with s.open(A) as conv:
        assert conv.exchanges == []


async def test_forget_user_removes_only_their_exchanges(redis_client: aioredis.Redis) -> None:
    s = store(redis_client)
    c2 = ConversationKey(Platform.DISCORD, "g1", "c2")
    for key in (A, c2):
        for author in ("u1", "u2", "u1"):
            async with s.open(key) as conv:
                await conv.commit(exchange(f"{author}-{key.channel}", author=author))
    async with s.open(B) as conv:  # same author id in another guild: another person
        await conv.commit(exchange("elsewhere", author="u1"))
    removed = await s.forget_user("discord:g1:u1")
    assert removed == 4
    for key in (A, c2):
        async with s.open(key) as conv:
            assert [ex.user.author_id for ex in conv.exchanges] == ["u2"]
    async with s.open(B) as conv:
        assert len(conv.exchanges) == 1
    assert await redis_client.ttl(KEYS.turns(A.id)) > 0


async def test_open_and_commit_take_two_round_trips(redis_client: aioredis.Redis, redis_url: str) -> None:
    client = CountingRedis.from_url(redis_url)
    try:
        s = store(client)
        async with s.open(A) as conv:
            await conv.commit(exchange("warm up"))  # loads the scripts
        CountingRedis.trips = 0
        async with s.open(A) as conv:
            await conv.commit(exchange("counted"))
        assert CountingRedis.trips == 2
    finally:
        await client.aclose()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_redis_is_history_unavailable() -> None:
    client = aioredis.Redis(
        host="127.0.0.1", port=_closed_port(), socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 1)
    )
    try:
        s = store(client)
        with pytest.raises(HistoryUnavailable):
            async with s.open(A):
                pass
        with pytest.raises(HistoryUnavailable):
            await s.get_persona(A)
    finally:
        await client.aclose()
