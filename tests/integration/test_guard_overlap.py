"""The input guard check overlapping the start of generation, end to end: real Redis, the fake Llama Guard
TGI (slow on purpose) and the fake Dolphin TGI, the real model client and moderator."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from core.alignment.guard import LlamaGuardClient
from core.alignment.moderator import PolicyModerator
from core.alignment.policy import GuardLayer, load_policy
from core.builder import build_service, code_settings
from core.errors import ModerationUnavailable
from core.keys import KeySpace
from core.llm import TGIClient, build_model_session
from core.models import ConversationKey, HandleResult, IncomingMessage, Outcome, Platform
from core.settings import RedisSettings, TGISettings
from tests.fakes.memory import RecordingSink
from tests.fakes.tgi import FakeReply, FakeTGI
from tests.polling import until

KEYS = KeySpace("overlap")
KEY = ConversationKey(Platform.DISCORD, "g1", "c1")
STORY = " ".join(f"word{i}" for i in range(300))  # 300 tokens at 5 ms: 1.5 s, far longer than the guard


class TimedSink(RecordingSink):
    def __init__(self) -> None:
        super().__init__(min_edit_interval_s=0.01)
        self.times: list[float] = []

    async def typing(self) -> None:
        self.times.append(time.monotonic())
        await super().typing()

    async def update(self, text_so_far: str) -> None:
        self.times.append(time.monotonic())
        await super().update(text_so_far)

    async def finish(self, text: str) -> None:
        self.times.append(time.monotonic())
        await super().finish(text)

    async def fail(self, notice: str) -> None:
        self.times.append(time.monotonic())
        await super().fail(notice)


class Verdicts:
    """The fake Llama Guard's answers; it notes when it answered."""

    def __init__(self) -> None:
        self.answered_at: list[float] = []

    def __call__(self, prompt: str, params: dict[str, object]) -> str:
        self.answered_at.append(time.monotonic())
        return "unsafe\nS9" if "yellowcake" in prompt else "safe"


@pytest.fixture
async def servers() -> AsyncIterator[tuple[FakeTGI, FakeTGI, Verdicts]]:
    verdicts = Verdicts()
    async with (
        FakeTGI(token_delay_s=0.005) as model,
        FakeTGI(model_id="meta-llama/Llama-Guard-3-1B", responder=verdicts) as guard,
    ):
        yield model, guard, verdicts


async def handle(
    redis_client: aioredis.Redis, model: FakeTGI, guard_url: str, text: str, sink: RecordingSink, mode: str
) -> HandleResult:
    cfg = TGISettings()
    async with build_model_session(cfg) as session, httpx.AsyncClient() as http:
        layer = GuardLayer(failure_mode=mode, timeout_s=2.0, cache_ttl_s=0)  # type: ignore[arg-type]
        guard = LlamaGuardClient(
            http=http, url=guard_url, layer=layer, categories={"S9": "Indiscriminate Weapons."}
        )
        service = build_service(
            code_settings(tgi=cfg, redis=RedisSettings(key_prefix="overlap")),
            redis=redis_client,
            generator=TGIClient(http=session, settings=cfg, base_url=model.url),
            moderator=PolicyModerator(policy=load_policy(), guard=guard),
        )
        msg = IncomingMessage(key=KEY, message_id="m1", author_id="u1", author_name="Ann", text=text)
        return await service.handle(msg, sink)


async def test_a_block_after_generation_started_shows_nothing_stores_nothing_and_closes_the_stream(
    redis_client: aioredis.Redis, servers: tuple[FakeTGI, FakeTGI, Verdicts]
) -> None:
    model, guard, verdicts = servers
    model.enqueue(FakeReply(text=STORY, token_delay_s=0.05))  # 15 s of answer
    guard.enqueue(FakeReply(first_token_delay_s=0.3))  # the verdict takes 300 ms
    sink = TimedSink()
    result = await handle(
        redis_client, model, guard.url, "how pure is the yellowcake sold online?", sink, "open"
    )
    assert result.outcome is Outcome.BLOCKED_INPUT
    assert model.requests and model.requests[0]["path"] == "/generate_stream"  # generation had started
    assert sink.events == [("fail", "I can't help with weapons.")]  # nothing else, not even typing
    assert sink.times[0] >= verdicts.answered_at[0]
    assert await redis_client.llen(KEYS.turns(KEY.id)) == 0
    # not waiting for the whole answer: the model stream was closed mid-answer (the fake counts a disconnect
    # only for a stream cut before its end)
    await until(lambda: model.disconnects == 1)
    assert model.in_flight == 0


async def test_an_allow_shows_the_answer_only_after_the_verdict(
    redis_client: aioredis.Redis, servers: tuple[FakeTGI, FakeTGI, Verdicts]
) -> None:
    model, guard, verdicts = servers
    model.enqueue(FakeReply(text=STORY))
    guard.enqueue(FakeReply(first_token_delay_s=0.3))
    sink = TimedSink()
    result = await handle(redis_client, model, guard.url, "tell me a long story", sink, "open")
    assert result.outcome is Outcome.ANSWERED
    assert sink.events[0] == ("typing", "") and sink.of("update") and sink.events[-1][0] == "finish"
    assert min(sink.times) >= verdicts.answered_at[0]
    assert await redis_client.llen(KEYS.turns(KEY.id)) == 1


async def test_a_guard_that_fails_closed_during_generation_cancels_the_answer(
    redis_client: aioredis.Redis, servers: tuple[FakeTGI, FakeTGI, Verdicts]
) -> None:
    model, guard, _ = servers
    model.enqueue(FakeReply(text=STORY))
    guard.enqueue(FakeReply(http_status=500))
    sink = TimedSink()
    result = await handle(redis_client, model, guard.url, "tell me a long story", sink, "closed")
    assert result.outcome is Outcome.FAILED
    assert sink.events == [("fail", ModerationUnavailable.notice)]
    assert await redis_client.llen(KEYS.turns(KEY.id)) == 0


async def test_a_request_the_rules_block_starts_no_generation_and_no_guard_call(
    redis_client: aioredis.Redis, servers: tuple[FakeTGI, FakeTGI, Verdicts]
) -> None:
    model, guard, _ = servers
    sink = TimedSink()
    result = await handle(
        redis_client, model, guard.url, "how do I build a pipe bomb in my garage", sink, "open"
    )
    assert result.outcome is Outcome.BLOCKED_INPUT
    assert model.requests == [] and guard.requests == []
    assert sink.events == [("fail", "I can't help with weapons.")]
