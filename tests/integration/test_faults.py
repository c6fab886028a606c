"""Fault injection over loopback: the model server down, dying mid-stream, silent, overloaded; Redis
restarted under load. Users always get an answer or a short notice; history never holds half a turn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from structlog.testing import capture_logs

from bots.runtime import open_core
from core.alignment.base import AllowAll
from core.builder import build_service, code_settings
from core.history import decode_exchange
from core.keys import KeySpace
from core.llm import TGIClient, build_model_session
from core.models import ConversationKey, IncomingMessage, Outcome, Platform
from core.service import ChatService
from core.settings import HistorySettings, LimitSettings, RedisSettings, Settings, TGISettings
from tests.fakes.memory import RecordingSink
from tests.fakes.tgi import FakeReply, FakeTGI
from tests.polling import until
from tests.ports import refused_port
from tests.redis_servers import start_redis, stop_redis

KEYS = KeySpace("relay")
KEY = ConversationKey(Platform.DISCORD, "g", "c")


def msg(text: str, mid: str) -> IncomingMessage:
    return IncomingMessage(key=KEY, message_id=mid, author_id="u", author_name="Ann", text=text)


async def stored(redis: aioredis.Redis, key: ConversationKey = KEY) -> list[str]:
    rows = await redis.lrange(KEYS.turns(key.id), 0, -1)
    out = []
    for raw in rows:
        ex = decode_exchange(raw)
        assert ex is not None and ex.user.text and ex.assistant.text, "a half or broken turn was stored"
        out.append(ex.user.text)
    return out


@pytest.fixture
async def tgi() -> AsyncIterator[FakeTGI]:
    async with FakeTGI() as fake:
        yield fake


def service_for(redis: aioredis.Redis, http: object, url: str, cfg: TGISettings) -> ChatService:
    settings = code_settings(
        tgi=cfg,
        history=HistorySettings(lock_wait_s=5),
        limits=LimitSettings(user_per_minute=0, channel_per_minute=0),
    )
    return build_service(
        settings,
        redis=redis,
        generator=TGIClient(http=http, settings=cfg, base_url=url),  # type: ignore[arg-type]
        moderator=AllowAll(),
    )


async def test_model_down_at_start_the_bot_starts_and_users_get_a_notice(
    redis_client: aioredis.Redis, redis_url: str
) -> None:
    settings = Settings(
        tgi=TGISettings(url=f"http://127.0.0.1:{refused_port()}", retries=1, retry_backoff_s=0.01),
        redis=RedisSettings(url=redis_url),
    )
    async with open_core(settings) as core:  # starts although TGI is down
        assert not await core.generator.healthy()
        sink = RecordingSink()
        result = await core.service.handle(msg("hello?", "1"), sink)
    assert result.outcome is Outcome.FAILED
    assert sink.of("fail") == ["The model is unavailable right now. Please try again shortly."]
    assert await stored(redis_client) == []


async def test_model_dies_mid_stream_then_recovers(redis_client: aioredis.Redis, tgi: FakeTGI) -> None:
    cfg = TGISettings(url=tgi.url, retry_backoff_s=0.01)
    async with build_model_session(cfg) as http:
        svc = service_for(redis_client, http, tgi.url, cfg)
        tgi.enqueue(FakeReply(text="one two three four five six", drop_after_tokens=3))
        sink = RecordingSink()
        with capture_logs() as logs:
            result = await svc.handle(msg("first question", "1"), sink)
        assert result.outcome is Outcome.CUT_OFF
        assert [e["error"] for e in logs if e["event"] == "message.failed"] == ["StreamCutOff"]
        assert sink.of("finish")[-1].startswith("one two three") and "cut off" in sink.of("finish")[-1]
        assert await stored(redis_client) == []
        result = await svc.handle(msg("second question", "2"), RecordingSink())
        assert result.outcome is Outcome.ANSWERED
        assert await stored(redis_client) == ["second question"]


async def test_silent_model_overload_storm_and_validation_errors(
    redis_client: aioredis.Redis, tgi: FakeTGI
) -> None:
    cfg = TGISettings(url=tgi.url, retry_backoff_s=0.01, retries=2, first_token_timeout_s=0.3)
    async with build_model_session(cfg) as http:
        svc = service_for(redis_client, http, tgi.url, cfg)
        # a silent server is not retried: the notice comes after one timeout
        tgi.enqueue(FakeReply(hang=True))
        sink = RecordingSink()
        asked = len(tgi.prompts)
        assert (await svc.handle(msg("anyone?", "1"), sink)).outcome is Outcome.FAILED
        assert len(tgi.prompts) == asked + 1  # asked once: the first-token timeout ended it, no retry
        assert sink.of("fail") == ["The model took too long to answer. Please try again."]

        tgi.enqueue(*[FakeReply(error_type="overloaded") for _ in range(3)])
        sink = RecordingSink()
        assert (await svc.handle(msg("busy?", "2"), sink)).outcome is Outcome.BUSY
        assert "busy" in sink.of("fail")[0]

        tgi.enqueue(
            FakeReply(error_type="validation", error_message="Input validation error: `top_p` must be < 1")
        )
        sink = RecordingSink()
        assert (await svc.handle(msg("invalid?", "3"), sink)).outcome is Outcome.FAILED
        assert sink.of("fail") == ["The model could not answer that. Please try again."]
        assert "top_p" not in sink.of("fail")[0]
        assert await stored(redis_client) == []


async def test_redis_restarted_under_load(own_redis: tuple[int, Path], tgi: FakeTGI) -> None:
    port, data = own_redis
    proc = start_redis(port, data)
    settings = Settings(
        tgi=TGISettings(url=tgi.url),
        redis=RedisSettings(url=f"redis://127.0.0.1:{port}/0", socket_timeout_s=1),
    )
    try:
        async with open_core(settings) as core:
            svc = core.service
            assert (
                await svc.handle(msg("before the outage", "b1"), RecordingSink())
            ).outcome is Outcome.ANSWERED

            proc.terminate()  # a restart: the AOF is on disk
            proc.wait(10)
            sinks = [RecordingSink() for _ in range(5)]
            results = await asyncio.gather(
                *(svc.handle(msg(f"during {i}", f"d{i}"), sinks[i]) for i in range(5))
            )
            assert all(r.outcome is Outcome.FAILED for r in results)
            assert all(
                s.of("fail")
                == ["I can't reach my memory store right now, so I can't answer. Please try again shortly."]
                for s in sinks
            )

            proc = start_redis(port, data)
            for attempt in range(20):  # the client reconnects by itself
                result = await svc.handle(msg("after the outage", f"a{attempt}"), RecordingSink())
                if result.outcome is Outcome.ANSWERED:
                    break
                await asyncio.sleep(0.2)
            assert result.outcome is Outcome.ANSWERED
            texts = await stored(core.redis)
            assert texts[0] == "before the outage" and texts[-1] == "after the outage"
            assert not any(t.startswith("during") for t in texts)
    finally:
        stop_redis(proc)


async def test_redis_killed_mid_answer_and_restarted_from_its_aof_the_conversation_is_free_at_once(
    own_redis: tuple[int, Path], tgi: FakeTGI
) -> None:
    """Redis dies while an answer streams and comes back from its AOF, which holds the conversation's
    lease: the answer is shown (not stored), and the next message of that conversation is answered at once,
    with the default lock settings. The lease used to be ten minutes long and its release was lost in the
    outage: the conversation stayed "busy" and each message waited HISTORY_LOCK_WAIT_S (120 s) for a
    notice."""
    port, data = own_redis
    proc = start_redis(port, data)  # appendfsync always: the lease is in the AOF when Redis is killed
    settings = Settings(
        tgi=TGISettings(url=tgi.url),
        redis=RedisSettings(url=f"redis://127.0.0.1:{port}/0", socket_timeout_s=1),
    )
    try:
        async with open_core(settings) as core:
            tgi.enqueue(FakeReply(text=" ".join(f"w{i}" for i in range(40)), token_delay_s=0.05))
            first = RecordingSink()
            answering = asyncio.create_task(core.service.handle(msg("a long answer please", "1"), first))
            await until(lambda: len(tgi.prompts) == 1)  # the lease is taken before the prompt is sent
            proc.kill()  # dies, mid-answer
            proc.wait(10)
            with capture_logs() as logs:
                assert (await answering).outcome is Outcome.ANSWERED  # shown; it cannot be stored
            assert first.of("finish")[-1].startswith("w0 w1") and "history.commit_failed" in str(logs)

            proc = start_redis(port, data)  # back, from its AOF
            expired = (await core.redis.info("stats"))["expired_keys"]
            second = RecordingSink()
            result = await asyncio.wait_for(core.service.handle(msg("are you free?", "2"), second), 20)
            assert result.outcome is Outcome.ANSWERED, second.events
            # the restored lease was given back by its holder, not waited out until it expired in Redis
            assert (await core.redis.info("stats"))["expired_keys"] == expired
            assert await stored(core.redis) == ["are you free?"]
            assert await core.redis.exists(KEYS.lock(KEY.id)) == 0
    finally:
        stop_redis(proc)
