"""The Redis history store against a real redis-server (the session's throwaway server)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from structlog.testing import capture_logs

from bots.runtime import build_redis
from core.errors import HistoryUnavailable
from core.history import RedisConversationStore, decode_exchange, encode_exchange
from core.keys import KeySpace
from core.models import ConversationKey, Exchange, Platform, Role, Turn
from core.settings import HistorySettings, RedisSettings, Settings

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


def store(client: aioredis.Redis, **settings: Any) -> RedisConversationStore:
    return RedisConversationStore(redis=client, keys=KEYS, settings=HistorySettings(**settings))


Fault = tuple[bytes, type[Exception], bool]  # (marker in the command, error to raise, raise after sending)


def counting_client(
    url: str, faults: list[Fault] | None = None, **options: Any
) -> tuple[aioredis.Redis, list[int]]:
    """A client whose connections count round trips (each packed send: a command, a script call or a
    whole pipeline) and inject one-shot faults: the first queued fault whose marker is in a command
    raises its error before the command is sent (dropped connection) or after (reply timed out)."""
    sent = [0]

    class CountingConnection(aioredis.Connection):
        async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
            sent[0] += 1
            fault = faults[0] if faults and any(faults[0][0] in part for part in command) else None
            if fault is not None and faults:
                faults.pop(0)
                if not fault[2]:
                    raise fault[1]("injected before sending")
            await super().send_packed_command(command, check_health)
            if fault is not None:
                raise fault[1]("injected after sending")

    pool = aioredis.ConnectionPool.from_url(url, connection_class=CountingConnection, **options)
    return aioredis.Redis.from_pool(pool), sent


async def texts(s: RedisConversationStore, key: ConversationKey = A) -> list[str]:
    async with s.open(key) as conv:
        return [ex.user.text for ex in conv.exchanges]


def lease_attempts(s: RedisConversationStore) -> list[bool]:
    """From now on, whether each attempt of `s` to take a conversation's lease got it, in order (a waiter
    retries until it does or gives up)."""
    attempts: list[bool] = []
    script = s._open_script

    async def counted(**kwargs: Any) -> Any:
        result = await script(**kwargs)
        attempts.append(int(result[0]) == 1)
        return result

    s._open_script = counted  # type: ignore[method-assign]
    return attempts


async def test_append_reload_and_trim(redis_client: aioredis.Redis) -> None:
    s = store(redis_client, max_turns=3)
    for i in range(5):
        async with s.open(A) as conv:
            await conv.commit(exchange(f"q{i}"))
    async with store(redis_client, max_turns=3).open(A) as conv:  # a new store: what a restart sees
        assert [ex.user.text for ex in conv.exchanges] == ["q2", "q3", "q4"]
        first = conv.exchanges[0]
        assert first.user.author_id == "u1" and first.user.author_name == "U1"
        assert first.user.tokens == 3 and first.assistant.tokens == 2 and first.message_id == "m-q2"
    assert await redis_client.llen(KEYS.turns(A.id)) == 3


async def test_commit_only_once_per_session(redis_client: aioredis.Redis) -> None:
    s = store(redis_client)
    async with s.open(A) as conv:
        await conv.commit(exchange("one"))
        with pytest.raises(RuntimeError):
            await conv.commit(exchange("two"))
    assert await texts(s) == ["one"]


async def test_every_key_has_a_ttl(redis_client: aioredis.Redis) -> None:
    s = store(redis_client, ttl_s=3600)
    for author in ("u1", "u2"):
        async with s.open(A) as conv:
            await conv.commit(exchange(f"hello {author}", author=author))
    await s.set_persona(A, "pirate")
    await s.set_persona(B, "poet")
    await s.forget_user("discord:g1:u2")  # rewrites the list: the TTL must survive
    async with s.open(B):  # the lock is held now
        keys = [k async for k in redis_client.scan_iter("*")]
        ttls = {k.decode(): await redis_client.pttl(k) for k in keys}
    assert {KEYS.turns(A.id), KEYS.persona(A.id), KEYS.persona(B.id), KEYS.lock(B.id)} <= set(ttls)
    assert KEYS.user_conversations("discord:g1:u1") in ttls
    for k, ttl in ttls.items():
        assert 0 < ttl <= 3600 * 1000, k


async def test_keys_are_versioned_namespaced_and_slot_tagged() -> None:
    ks = KeySpace("relay")
    conv = ConversationKey(Platform.SLACK, "T1", "C1", "171.2")
    names = [ks.turns(conv.id), ks.persona(conv.id), ks.lock(conv.id)]
    assert all(n.startswith("relay:v1:{conv:slack:T1:C1:171.2}:") for n in names)
    assert ks.user_conversations("slack:T1:U1") == "relay:v1:{user:slack:T1:U1}:convs"
    assert ks.paused(conv) == "relay:v1:{chan:slack:T1:C1}:paused"
    # braces inside ids would move keys to another slot: ids are escaped
    odd = ConversationKey(Platform.CONSOLE, "local", "a{b}c")
    assert ks.turns(odd.id).count("{") == 1 and ks.turns(odd.id).count("}") == 1


async def test_concurrent_sessions_run_one_after_the_other(redis_client: aioredis.Redis) -> None:
    s = store(redis_client)
    inside = 0
    overlap = False

    async def one(i: int) -> None:
        nonlocal inside, overlap
        async with s.open(A) as conv:
            inside += 1
            overlap = overlap or inside > 1
            seen = len(conv.exchanges)  # each session sees every exchange committed before it
            await asyncio.sleep(0.01)
            inside -= 1
            await conv.commit(exchange(f"q{i}-{seen}"))

    await asyncio.gather(*(one(i) for i in range(5)))
    stored = await texts(s)
    assert not overlap
    assert [t.split("-")[1] for t in stored] == ["0", "1", "2", "3", "4"]
    assert sorted(t.split("-")[0] for t in stored) == [f"q{i}" for i in range(5)]
    assert s._local == {}  # no in-process lock left behind for an idle conversation


async def test_two_processes_share_the_lock(redis_client: aioredis.Redis, redis_url: str) -> None:
    c1, c2 = aioredis.Redis.from_url(redis_url), aioredis.Redis.from_url(redis_url)
    s1, s2 = store(c1), store(c2)  # two stores with their own clients: two bot processes
    try:

        async def one(s: RedisConversationStore) -> None:
            async with s.open(A) as conv:
                seen = len(conv.exchanges)
                await asyncio.sleep(0.02)
                await conv.commit(exchange(f"{seen}"))

        await asyncio.gather(*(one(s1 if i % 2 else s2) for i in range(6)))
        assert await texts(s1) == [str(n) for n in range(6)]
    finally:
        await c1.aclose()
        await c2.aclose()


async def test_failed_session_commits_nothing_and_releases(redis_client: aioredis.Redis) -> None:
    s = store(redis_client, lock_wait_s=0.5)
    with pytest.raises(RuntimeError):
        async with s.open(A):
            raise RuntimeError("generation failed")
    assert await redis_client.exists(KEYS.lock(A.id)) == 0
    attempts = lease_attempts(s)
    assert await texts(s) == []
    assert attempts == [True]  # the lease at the first attempt: no waiting for one


async def test_failed_commit_stores_nothing_and_releases(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    faults: list[Fault] = []
    client, _ = counting_client(redis_url, faults)
    try:
        s = store(client, lock_wait_s=0.5)
        async with s.open(A) as conv:
            await conv.commit(exchange("first"))  # loads the scripts
        faults.append((s._commit_script.sha.encode(), redis.exceptions.ConnectionError, False))
        with pytest.raises(HistoryUnavailable):
            async with s.open(A) as conv:
                await conv.commit(exchange("lost"))
        assert await client.exists(KEYS.lock(A.id)) == 0  # the next message does not wait for a lease
        assert await texts(s) == ["first"]
    finally:
        await client.aclose()


async def test_retried_calls_after_a_timeout_neither_wait_nor_duplicate(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    # redis-py retries a call whose reply timed out, although the server ran it: the lease taken by the
    # first attempt is recognized as ours, and the exchange appended by the first attempt is not repeated
    faults: list[Fault] = []
    client, _ = counting_client(redis_url, faults, retry=Retry(NoBackoff(), 2))
    try:
        s = store(client, lock_wait_s=2)
        async with s.open(A) as conv:
            await conv.commit(exchange("first"))  # loads the scripts
        faults.append((s._open_script.sha.encode(), redis.exceptions.TimeoutError, True))
        faults.append((s._commit_script.sha.encode(), redis.exceptions.TimeoutError, True))
        attempts = lease_attempts(s)
        async with s.open(A) as conv:
            await conv.commit(exchange("second"))
        assert not faults and attempts == [True]  # the retried call's lease was ours: no waiting
        assert await texts(s) == ["first", "second"]
        assert await client.exists(KEYS.lock(A.id)) == 0
    finally:
        await client.aclose()


async def test_lock_of_a_crashed_process_expires(redis_client: aioredis.Redis) -> None:
    await redis_client.set(KEYS.lock(A.id), "crashed-process", px=300)
    s = store(redis_client, lock_wait_s=3)
    attempts = lease_attempts(s)
    async with s.open(A) as conv:
        await conv.commit(exchange("after the lease"))
    assert attempts[0] is False and attempts[-1] is True  # waited for the lease to expire, then took it
    assert await texts(s) == ["after the lease"]
    assert await redis_client.exists(KEYS.lock(A.id)) == 0


async def test_cancelled_while_taking_the_lock_gives_the_lease_back(redis_client: aioredis.Redis) -> None:
    """Cancelled after Redis ran the open script but before its reply arrived (shutdown, an input guard's
    block): the lease it took is given back, so the conversation is not locked for the whole lease."""
    s = store(redis_client, lock_timeout_s=600, lock_wait_s=1)
    script = s._open_script
    ran = asyncio.Event()

    async def slow_reply(**kwargs: Any) -> Any:
        result = await script(**kwargs)  # the lease is taken in Redis
        ran.set()
        await asyncio.sleep(10)  # the reply is late
        return result

    s._open_script = slow_reply  # type: ignore[method-assign]
    task = asyncio.create_task(texts(s))
    await asyncio.wait_for(ran.wait(), 5)
    assert await redis_client.exists(KEYS.lock(A.id)) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    s._open_script = script  # type: ignore[method-assign]
    attempts = lease_attempts(s)
    assert await texts(s) == []
    assert attempts == [True]  # the next message gets the conversation at once


async def test_lease_is_never_released_by_another_owner(redis_client: aioredis.Redis) -> None:
    s = store(redis_client, lock_timeout_s=0.1, lock_wait_s=1)
    async with s.open(A) as conv:
        await asyncio.sleep(0.2)  # our lease expired: another process takes the conversation
        await redis_client.set(KEYS.lock(A.id), "other-process", px=5000)
        await conv.commit(exchange("late"))
    assert await redis_client.get(KEYS.lock(A.id)) == b"other-process"
    assert await redis_client.lrange(KEYS.turns(A.id), 0, -1)  # the answer was kept all the same


async def test_lock_wait_gives_up_with_a_busy_notice(redis_client: aioredis.Redis) -> None:
    await redis_client.set(KEYS.lock(A.id), "someone-else", px=60_000)
    s = store(redis_client, lock_wait_s=0.3)
    attempts = lease_attempts(s)
    started = time.monotonic()
    with pytest.raises(HistoryUnavailable) as err:  # the lease is a minute long: only the wait's end ends it
        async with s.open(A):
            pass
    assert time.monotonic() - started >= 0.3 and len(attempts) > 1 and not any(attempts)
    assert "busy" in err.value.notice
    assert s._local == {}


async def test_other_conversations_proceed_concurrently(redis_client: aioredis.Redis) -> None:
    s = store(redis_client, lock_wait_s=5)
    async with s.open(A):
        attempts = lease_attempts(s)
        async with s.open(B) as conv:
            await conv.commit(exchange("other"))
        assert attempts == [True]  # B's lease at once, while A's is held
    assert await texts(s, B) == ["other"]


async def test_persona_set_get_clear_and_ttl(redis_client: aioredis.Redis) -> None:
    s = store(redis_client, ttl_s=600)
    await s.set_persona(A, "a pirate")
    assert await s.get_persona(A) == "a pirate"
    assert 0 < await redis_client.pttl(KEYS.persona(A.id)) <= 600_000
    async with s.open(A) as conv:
        assert conv.persona == "a pirate"
    await s.set_persona(A, None)
    assert await s.get_persona(A) is None
    async with s.open(A) as conv:
        assert conv.persona is None


async def test_clear_removes_history_only(redis_client: aioredis.Redis) -> None:
    s = store(redis_client)
    await s.set_persona(A, "a pirate")
    async with s.open(A) as conv:
        await conv.commit(exchange("a"))
    await s.clear(A)
    async with s.open(A) as conv:
        assert conv.exchanges == [] and conv.persona == "a pirate"
        await conv.commit(exchange("b"))
    assert await texts(s) == ["b"]


async def test_same_channel_in_two_spaces_never_shares(redis_client: aioredis.Redis) -> None:
    s = store(redis_client)
    await s.set_persona(A, "a pirate")
    async with s.open(A) as conv:
        await conv.commit(exchange("in g1"))
    async with s.open(B) as conv:
        assert conv.exchanges == [] and conv.persona is None
        await conv.commit(exchange("in g2"))
    await s.clear(B)
    assert await texts(s, A) == ["in g1"]
    assert await s.get_persona(B) is None


async def test_forget_user_removes_only_their_exchanges(redis_client: aioredis.Redis) -> None:
    s = store(redis_client)
    c2 = ConversationKey(Platform.DISCORD, "g1", "c2")
    thread = ConversationKey(Platform.SLACK, "T1", "C1", "1.1")
    for key in (A, c2):
        for author in ("u1", "u2", "u1"):
            async with s.open(key) as conv:
                await conv.commit(exchange(f"{author}-{key.channel}", author=author))
    async with s.open(B) as conv:  # the same author id in another guild: another person
        await conv.commit(exchange("elsewhere", author="u1"))
    async with s.open(thread) as conv:
        await conv.commit(exchange("slack", author="u1"))
    assert await s.forget_user("discord:g1:u1") == 4
    for key in (A, c2):
        async with s.open(key) as conv:
            assert [ex.user.author_id for ex in conv.exchanges] == ["u2"]
    assert await texts(s, B) == ["elsewhere"]
    assert await texts(s, thread) == ["slack"]
    assert await redis_client.exists(KEYS.user_conversations("discord:g1:u1")) == 0
    assert await s.forget_user("discord:g1:u1") == 0  # idempotent
    assert await s.forget_user("slack:T1:u1") == 1


async def test_forget_user_in_a_long_list(redis_client: aioredis.Redis) -> None:
    # more elements than Lua's unpack() takes at once
    s = store(redis_client, max_turns=20_000)
    rows = [encode_exchange(exchange(f"q{i}", author="u1" if i % 3 == 0 else "u2")) for i in range(12_000)]
    await redis_client.rpush(KEYS.turns(A.id), *rows)
    await redis_client.expire(KEYS.turns(A.id), 600)
    async with s.open(A) as conv:
        await conv.commit(exchange("indexed", author="u1"))
    assert await s.forget_user("discord:g1:u1") == 4001
    left = [decode_exchange(r) for r in await redis_client.lrange(KEYS.turns(A.id), 0, -1)]
    assert len(left) == 8000 and all(ex is not None and ex.user.author_id == "u2" for ex in left)
    assert await redis_client.ttl(KEYS.turns(A.id)) > 0


async def test_invalid_unicode_is_stored_not_fatal(redis_client: aioredis.Redis) -> None:
    s = store(redis_client)
    async with s.open(A) as conv:
        await conv.commit(exchange("bad \ud800 text é"))
    assert await texts(s) == ["bad ? text é"]  # as the rest of the core replaces it


async def test_round_trips_open_commit_and_release(redis_client: aioredis.Redis, redis_url: str) -> None:
    client, sent = counting_client(redis_url)
    try:
        s = store(client)
        async with s.open(A) as conv:
            await conv.commit(exchange("warm up"))  # connects and loads the scripts
        sent[0] = 0
        async with s.open(A) as conv:
            await conv.commit(exchange("counted"))
        assert sent[0] == 2  # lock + load; append + trim + TTL + index + unlock
        sent[0] = 0
        async with s.open(A):
            pass
        assert sent[0] == 2  # lock + load; unlock
        assert await texts(s) == ["warm up", "counted"]
    finally:
        await client.aclose()


async def test_unreachable_redis_is_history_unavailable_after_a_few_attempts() -> None:
    # the client exactly as the composition root builds it (bounded retries), against a "Redis" that hangs up
    # on every connection
    connections: list[int] = []

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = build_redis(Settings(redis=RedisSettings(url=f"redis://127.0.0.1:{port}/0")))
    try:
        s = store(client)
        with pytest.raises(HistoryUnavailable) as err:
            async with s.open(A):
                pass
        assert "memory store" in err.value.notice
        # bounded: the client's retries of the connect within its retries of the command, no more
        tries = client.get_retry().get_retries() + 1  # type: ignore[union-attr]
        assert 0 < len(connections) <= tries * tries, len(connections)
        for op in (s.get_persona(A), s.forget_user("discord:g1:u1")):
            with pytest.raises(HistoryUnavailable):
                await op
        assert s._local == {}
    finally:
        await client.aclose()
        server.close()


async def test_a_lease_shorter_than_the_answer_is_renewed_while_the_answer_runs(
    redis_client: aioredis.Redis,
) -> None:
    """The lease is short (a holder that is gone frees the conversation soon) and renewed by its holder:
    another process cannot take the conversation in the middle of an answer four leases long, and gets it
    at once when the answer is stored."""
    mine, other = store(redis_client, lock_timeout_s=0.3), store(redis_client, lock_wait_s=0.2)
    async with mine.open(A) as conv:
        for _ in range(4):
            await asyncio.sleep(0.3)
            with pytest.raises(HistoryUnavailable) as busy:
                async with other.open(A):
                    pass
            assert "busy" in busy.value.notice
        await conv.commit(exchange("a long answer"))
    async with other.open(A) as conv:
        assert [e.user.text for e in conv.exchanges] == ["a long answer"]
    assert await redis_client.exists(KEYS.lock(A.id)) == 0


@pytest.mark.parametrize("committing", [False, True])
async def test_a_renewal_that_meets_its_own_commit_is_no_lost_lease(
    redis_client: aioredis.Redis, committing: bool
) -> None:
    """A renewal due while the session's own commit is on its way finds the lease gone (the commit gave it
    back): that is not "history.lease_lost", which the soak and the stream bench printed under load. A lease
    gone before any commit still is."""
    s = store(redis_client, lock_timeout_s=30)
    async with s.open(A) as conv:
        await redis_client.delete(KEYS.lock(A.id))  # what the commit script leaves, or a lost lease
        conv.committed = committing  # type: ignore[attr-defined]
        with capture_logs() as logs:
            await asyncio.wait_for(s._keep_lease(conv), 5)  # type: ignore[arg-type]  # returns: lease gone
        conv.released = True  # type: ignore[attr-defined]  # as the commit's reply, or nothing to give back
    lost = [e for e in logs if e["event"] == "history.lease_lost"]
    assert bool(lost) is not committing


async def test_a_release_lost_in_an_outage_is_retried_until_redis_answers(redis_url: str) -> None:
    """The session ends while Redis cannot be reached: the lease is given back as soon as it can be, not
    left to expire (a lease restored from Redis's AOF would otherwise hold the conversation)."""
    client = aioredis.Redis.from_url(redis_url)
    s = store(client, lock_timeout_s=30)
    down = [True]
    script = s._release_script

    async def release(**kwargs: Any) -> Any:
        if down[0]:
            raise redis.exceptions.ConnectionError("Connection refused")
        return await script(**kwargs)

    s._release_script = release  # type: ignore[method-assign]
    try:
        async with s.open(A):
            pass  # nothing committed: the lease is to be given back, and Redis is "down"
        assert await client.exists(KEYS.lock(A.id)) == 1
        down[0] = False  # Redis is back
        await asyncio.wait(set(s._releasing), timeout=20)  # the background release
        assert not s._releasing  # it retried and gave the lease back, not left to the 30 s lease
        assert await client.exists(KEYS.lock(A.id)) == 0
    finally:
        await client.aclose()


async def test_forget_author_removes_their_turns_in_every_space_of_the_platform_only(
    redis_client: aioredis.Redis,
) -> None:
    s = store(redis_client, ttl_s=3600)
    dm = ConversationKey(Platform.DISCORD, "@dm", "d9")
    slack = ConversationKey(Platform.SLACK, "g1", "c1")  # the same ids on another platform
    for key in (A, B, dm, slack):
        for author in ("u1", "u2"):
            async with s.open(key) as conv:
                await conv.commit(exchange(f"{key.id} {author}", author=author))
    index = KEYS.author_users(Platform.DISCORD, "u1")
    assert 0 < await redis_client.pttl(index) <= 3600 * 1000
    assert await s.forget_author(Platform.DISCORD, "u1") == 3  # g1, g2 and the DM
    for key in (A, B, dm):
        async with s.open(key) as conv:
            assert [ex.user.author_id for ex in conv.exchanges] == ["u2"]
    async with s.open(slack) as conv:
        assert [ex.user.author_id for ex in conv.exchanges] == ["u1", "u2"]
    assert not await redis_client.exists(index)
    assert await s.forget_author(Platform.DISCORD, "u1") == 0  # nothing left, and no index to read
