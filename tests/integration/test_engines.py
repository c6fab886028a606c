"""vLLM and SGLang as first-class engines, against the stand-in written from their server code
(tests/fakes/tgi.py, `dialect=`): limits, token counts, health, errors and notices, token accounting,
and a long channel conversation on a small context with no limit set by hand."""

from __future__ import annotations

import uuid

import aiohttp
import pytest
import redis.asyncio as aioredis

from bots.runtime import open_core
from core.errors import GenerationFailed, StreamCutOff
from core.llm import GenerationParams, ModelClient, build_model_session
from core.models import ConversationKey, IncomingMessage, Outcome, Platform
from core.settings import AlignmentSettings, LimitSettings, RedisSettings, Settings, TGISettings
from tests.fakes.discord_harness import discord_bot
from tests.fakes.discord_harness import mention as discord_mention
from tests.fakes.discord_payloads import GENERAL
from tests.fakes.memory import RecordingSink
from tests.fakes.tgi import FakeReply, FakeTGI
from tests.integration.slack_harness import event as slack_event
from tests.integration.slack_harness import http_harness
from tests.integration.slack_harness import mention as slack_mention

PROMPT = "<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n"
PARAMS = GenerationParams(max_new_tokens=64)
ENGINES = ["vllm", "sglang"]
TS = "1700000001.000100"  # the Slack mention's timestamp (tests/integration/slack_harness.py)


def client(url: str, **settings: object) -> tuple[ModelClient, object]:
    cfg = TGISettings(url=url, retry_backoff_s=0.01, **settings)  # type: ignore[arg-type]
    http = build_model_session(cfg)
    return ModelClient(http=http, settings=cfg, base_url=url), http


# What each engine's server answers (TGI: router/src/server.rs; vLLM: its OpenAI-compatible api_server; SGLang:
# srt/entrypoints/http_server.py, whose native /generate takes another protocol and is not faked), and what it
# does not: 404, as the real servers answer a route they do not have.
ROUTES = {
    "tgi": {
        "/generate_stream",
        "/generate",
        "/info",
        "/tokenize",
        "/v1/models",
        "/v1/completions",
        "/health",
    },
    "vllm": {"/tokenize", "/v1/models", "/v1/completions", "/health"},
    "sglang": {"/v1/tokenize", "/tokenize", "/v1/models", "/v1/completions", "/health"},
}
GETS = {"/info", "/v1/models", "/health"}


@pytest.mark.parametrize("engine", ["tgi", *ENGINES])
async def test_each_stand_in_answers_its_engines_routes_only(engine: str) -> None:
    every = set().union(*ROUTES.values())
    async with FakeTGI(dialect=engine) as fake, aiohttp.ClientSession() as http:
        for path in sorted(every):
            method = "GET" if path in GETS else "POST"
            body = {"inputs": "hi", "prompt": "hi", "model": fake.model_id, "stream": True, "max_tokens": 4}
            async with http.request(method, f"{fake.url}{path}", json=body) as resp:
                await resp.read()
                assert (resp.status != 404) is (path in ROUTES[engine]), (engine, path, resp.status)


@pytest.mark.parametrize("engine", ENGINES)
async def test_limits_tokens_health_and_usage_come_from_the_engine(engine: str) -> None:
    async with FakeTGI(dialect=engine, max_total_tokens=4096) as fake:
        gen, http = client(fake.url, backend=engine)
        async with http:  # type: ignore[attr-defined]
            info = await gen.info()
            assert (info.max_input_tokens, info.max_total_tokens) == (4095, 4096)
            assert info.limits_from == "server" and info.model_id == fake.model_id
            assert info.engine == {"vllm": "vLLM", "sglang": "SGLang"}[engine]
            assert await gen.count_tokens(PROMPT) == fake.count_tokens(PROMPT)  # the engine's own count
            tokenize = fake.requests[-1]
            assert tokenize["path"] == {"vllm": "/tokenize", "sglang": "/v1/tokenize"}[engine]
            events = [e async for e in gen.stream(PROMPT, PARAMS)]
            assert "".join(e.text for e in events) == "You said: hello there"
            assert events[-1].finish_reason == "eos_token"
            assert events[-1].generated_tokens == 5  # from the usage chunk: 4 pieces + the end token
            body = fake.requests[-1]["body"]
            assert body["prompt"] == PROMPT and body["model"] == fake.model_id
            assert body["stream_options"] == {"include_usage": True}
            assert await gen.healthy()
            fake.healthy = False
            assert not await gen.healthy()  # /health, not /v1/models
            # a stop sequence the model wrote: not shown, and reported as such
            fake.enqueue(FakeReply(text="one two<|im_end|> three"))
            events = [e async for e in gen.stream(PROMPT, PARAMS)]
            assert (
                "".join(e.text for e in events) == "one two" and events[-1].finish_reason == "stop_sequence"
            )


@pytest.mark.parametrize("engine", ENGINES)
async def test_engine_errors_become_the_same_errors_as_tgis(engine: str) -> None:
    async with FakeTGI(dialect=engine, max_total_tokens=512) as fake:
        gen, http = client(fake.url, backend=engine)
        async with http:  # type: ignore[attr-defined]
            with pytest.raises(GenerationFailed) as too_long:  # over the context: a 400 from the engine
                async for _ in gen.stream(PROMPT + "word " * 600, PARAMS):
                    pass
            assert too_long.value.error_type == "validation"
            assert "maximum context length is 512" in str(too_long.value)
            fake.enqueue(FakeReply(http_status=429), FakeReply(http_status=503))  # retried, then answered
            assert "".join([e.text async for e in gen.stream(PROMPT, PARAMS)]) == "You said: hello there"
            fake.enqueue(FakeReply(text="a b c d e", error_type="generation", error_after_tokens=2))
            with pytest.raises(StreamCutOff) as cut:  # an error event mid-stream, after text was shown
                async for _ in gen.stream(PROMPT, PARAMS):
                    pass
            assert cut.value.partial == "a b"
            wrong, http2 = client(fake.url, backend=engine, model="not-served")
            async with http2:  # type: ignore[attr-defined]
                with pytest.raises(GenerationFailed) as missing:
                    async for _ in wrong.stream(PROMPT, PARAMS):
                        pass
            assert missing.value.error_type == "model_not_found"


async def test_existing_openai_setting_recognises_vllm() -> None:
    """TGI_BACKEND=openai keeps working; on a vLLM server it gets vLLM's limits and tokenizer."""
    async with FakeTGI(dialect="vllm", max_total_tokens=4096) as fake:
        gen, http = client(fake.url, backend="openai")
        async with http:  # type: ignore[attr-defined]
            assert (await gen.info()).max_total_tokens == 4096
            assert gen.dialect.name == "vllm" and await gen.count_tokens("hi") == fake.count_tokens("hi")


@pytest.mark.parametrize("engine", ["tgi", "vllm", "sglang"])
async def test_long_channel_conversation_on_a_4096_token_engine_is_answered_every_time(
    engine: str, redis_url: str, redis_client: object
) -> None:
    """45 messages from three people in one channel, on a server with a 4,096-token context and long
    answers; nothing configured but the engine and its URL. Every message is answered, no prompt goes
    over the context, and consecutive prompts keep sharing their start once the window is full."""
    answer = " ".join(f"word{i}" for i in range(150))
    async with FakeTGI(
        dialect=engine, max_total_tokens=4096, max_input_tokens=4095, responder=lambda p, _: answer
    ) as fake:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            tgi=TGISettings(url=fake.url, backend=engine),  # type: ignore[arg-type]
            redis=RedisSettings(url=redis_url, key_prefix=f"eng{uuid.uuid4().hex[:6]}"),
            limits=LimitSettings(user_per_minute=0, channel_per_minute=0),
            alignment=AlignmentSettings(enabled=False),
        )
        key = ConversationKey(Platform.DISCORD, "g", "c")
        async with open_core(settings, require_model=True) as core:
            outcomes = []
            for i in range(45):
                text = f"question {i}: " + "what else do dolphins do " * (1 + i % 5)
                msg = IncomingMessage(
                    key=key, message_id=f"m{i}", author_id=f"u{i % 3}", author_name=f"P{i % 3}", text=text
                )
                outcomes.append((await core.service.handle(msg, RecordingSink())).outcome)
    assert outcomes == [Outcome.ANSWERED] * 45
    prompts = fake.prompts
    assert len(prompts) == 45 and all(fake.count_tokens(p) < 4096 for p in prompts)
    dropped = [i for i in range(1, 45) if not prompts[i].startswith(prompts[i - 1])]
    assert dropped, "the window never filled: the test does not test what it says"
    assert len(dropped) <= 45 // 3  # history is dropped in blocks, not on every message once full


@pytest.mark.parametrize("engine", ENGINES)
async def test_discord_bot_answers_through_the_engine(
    engine: str, redis_url: str, redis_client: object
) -> None:
    """The Discord bot over the real core, its model server the vLLM or SGLang stand-in, nothing else set."""
    async with discord_bot(redis_url, engine=engine) as bot:
        api, fake = bot.api, bot.tgi
        await api.dispatch("MESSAGE_CREATE", discord_mention(api, "my number is 42"))
        await api.wait_until(lambda: "".join(api.visible(GENERAL)).startswith("You said"), timeout_s=10)
        await bot.settled()
        await api.dispatch("MESSAGE_CREATE", discord_mention(api, "what is my number?"))
        await api.wait_until(lambda: len(fake.prompts) == 2 and len(api.visible(GENERAL)) >= 2, timeout_s=10)
        await bot.settled()
        assert "my number is 42" in fake.prompts[1]  # the channel's history, on /v1/completions
        assert [r["path"] for r in fake.requests].count("/v1/completions") == 2
        assert api.visible(GENERAL)[-1] == "You said: Ally: what is my number?"


@pytest.mark.parametrize("engine", ENGINES)
async def test_slack_app_answers_through_the_engine(engine: str, redis_client: aioredis.Redis) -> None:
    async with http_harness(redis_client, engine=engine) as harness:
        await harness.post(slack_mention("my number is 42", event_id="Ev1"))
        await harness.settle()
        follow = slack_event(
            "what is my number?", event_id="Ev2", kind="message", ts="1700000002.1", thread_ts=TS
        )
        await harness.post(follow)
        await harness.settle()
        assert len(harness.tgi.prompts) == 2 and "my number is 42" in harness.tgi.prompts[1]
        assert harness.slack.visible("C1", TS)[-1] == "You said: U1: what is my number?"
        assert harness.core.generator.dialect.name == engine  # type: ignore[attr-defined]
